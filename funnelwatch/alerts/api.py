from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from funnelwatch.alerts import queries
from funnelwatch.alerts.models import Kind, Status
from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import Offset, page_size

router = Router(tags=["alerts"])

Limit = page_size(2000)


class AlertOut(Schema):
    id: int
    kind: str
    manager: str | None
    subject: str
    numbers: dict
    message: str
    opened_at: dt.datetime
    status: str


@router.get("", response={200: list[AlertOut], **errors(401, 422)})
def list_alerts(
    request,
    status: Status | None = None,
    kind: Kind | None = None,
    limit: Limit = 500,
    offset: Offset = 0,
):
    """Alerts the caller may see (their own; a team lead's team; the head all);
    ``limit`` at most 2000."""
    qs = queries.alerts_for(request.user, status=status, kind=kind)
    return [queries.as_json(a) for a in qs[offset : offset + limit]]


@router.get(
    "/",
    response={200: list[AlertOut], **errors(401, 422)},
    include_in_schema=False,
    operation_id="alerts_slash",
)
def list_alerts_slash(
    request,
    status: Status | None = None,
    kind: Kind | None = None,
    limit: Limit = 500,
    offset: Offset = 0,
):
    return list_alerts(request, status=status, kind=kind, limit=limit, offset=offset)
