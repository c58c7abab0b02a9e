"""Missed calls and callbacks.

A missed call is an inbound call no person answered. It is returned by the first later
outbound call to the same number, by anyone (linked when calls are stored, see
``ingest.link_callbacks``). The SLA (FUNNELWATCH_CALL_SLA_MINUTES, default 15) counts
working minutes only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from funnelwatch.accounts.models import User
from funnelwatch.telephony import conf, metrics, queries
from funnelwatch.telephony.models import Call


@dataclass
class MissedRow:
    call: Call
    waited_minutes: float  # working minutes since the call (open) or until the callback
    overdue: bool
    who: User | None  # who should call back


def _who(call: Call) -> User | None:
    if call.contact_id and call.contact.owner_id:
        return call.contact.owner
    if call.deal_id:
        return call.deal.owner
    return call.manager


def unreturned(user: User, now: dt.datetime, limit: int = 500) -> list[MissedRow]:
    """Missed calls not yet returned, oldest first, with the SLA state. A number that
    called several times appears once per call."""
    sla = conf.call_sla_minutes()
    calls = (
        queries.missed_calls(user)
        .filter(callback__isnull=True)
        .select_related("contact__owner", "deal__owner")
        .order_by("started_at", "pk")[:limit]
    )
    rows = []
    for call in calls:
        waited = metrics.working_minutes(call.started_at, now)
        rows.append(MissedRow(call, round(waited), waited > sla, _who(call)))
    return rows


def returned(user: User, since: dt.datetime, limit: int = 200) -> list[MissedRow]:
    sla = conf.call_sla_minutes()
    calls = (
        queries.missed_calls(user)
        .filter(callback__isnull=False, started_at__gte=since)
        .select_related("contact__owner", "deal__owner", "callback__manager")
        .order_by("-started_at", "-pk")[:limit]
    )
    rows = []
    for call in calls:
        took = metrics.working_minutes(call.started_at, call.callback_at)
        rows.append(MissedRow(call, round(took), took > sla, call.callback.manager))
    return rows
