from __future__ import annotations

import datetime as dt

from ninja import Query, Router
from ninja.errors import HttpError

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import queries

router = Router(tags=["metrics"])


@router.get("", url_name="metrics_table")
def key_numbers(
    request,
    start: dt.date = Query(..., alias="from"),  # noqa: B008
    to: dt.date = Query(...),  # noqa: B008
    by: str = "manager",
    metrics: str = "",
) -> dict:
    """The key-numbers table for ``[from, to)`` as the signed-in user may see it:
    ``{"from", "to", "rows": [{"manager", "team", "metrics": {key: value}}], "totals"}``;
    ``null`` where a value is undefined, money as decimal strings."""
    if to <= start:
        raise HttpError(422, "to: must be after from (it is exclusive)")
    if (to - start).days > 732:
        raise HttpError(422, "to: at most two years at a time")
    if by not in ("manager", "team", "none"):
        raise HttpError(422, "by: manager, team or none")
    keys = [k.strip() for k in metrics.split(",") if k.strip()] or None
    try:
        table = queries.key_numbers(
            request.user, Period(start, to), by=by, metrics=keys, compare=False
        )
    except KeyError as exc:
        raise HttpError(422, f"metrics: {exc.args[0]}") from None
    return queries.as_json(table)
