from __future__ import annotations

from typing import Literal

from ninja import Query, Router
from ninja.errors import HttpError

from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import Day, Text
from funnelwatch.lib.dates import Period
from funnelwatch.reports import queries

router = Router(tags=["metrics"])


@router.get("", url_name="metrics_table", response={200: dict, **errors(401, 422)})
def key_numbers(
    request,
    start: Day = Query(..., alias="from", example="2026-03-02"),  # noqa: B008
    to: Day = Query(..., example="2026-03-09"),  # noqa: B008
    by: Literal["manager", "team", "none"] = "manager",
    metrics: Text = "",
) -> dict:
    """The key-numbers table for ``[from, to)`` as the signed-in user may see it:
    ``{"from", "to", "rows": [{"manager", "team", "metrics": {key: value}}], "totals"}``;
    ``null`` where a value is undefined, money as decimal strings."""
    if to <= start:
        raise HttpError(422, "to: must be after from (it is exclusive)")
    if (to - start).days > 732:
        raise HttpError(422, "to: at most two years at a time")
    keys = [k.strip() for k in metrics.split(",") if k.strip()] or None
    try:
        table = queries.key_numbers(
            request.user, Period(start, to), by=by, metrics=keys, compare=False
        )
    except KeyError as exc:
        raise HttpError(422, f"metrics: {exc.args[0]}") from None
    return queries.as_json(table)
