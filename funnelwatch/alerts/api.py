from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from funnelwatch.alerts import queries

router = Router(tags=["alerts"])


class AlertOut(Schema):
    id: int
    kind: str
    manager: str | None
    subject: str
    numbers: dict
    message: str
    opened_at: dt.datetime
    status: str


@router.get("", response=list[AlertOut])
def list_alerts(
    request,
    status: str | None = None,
    kind: str | None = None,  # noqa: ANN001, ANN201
    limit: int = 500,
    offset: int = 0,
):
    """Alerts the caller may see (their own; a team lead's team; the head all)."""
    qs = queries.alerts_for(request.user, status=status, kind=kind)
    return [queries.as_json(a) for a in qs[offset : offset + min(limit, 2000)]]


@router.get("/", response=list[AlertOut], include_in_schema=False, operation_id="alerts_slash")
def list_alerts_slash(
    request,
    status: str | None = None,
    kind: str | None = None,  # noqa: ANN001, ANN201
    limit: int = 500,
    offset: int = 0,
):
    return list_alerts(request, status=status, kind=kind, limit=limit, offset=offset)
