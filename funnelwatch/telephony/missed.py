"""Missed calls and callbacks.

A missed call is an inbound call no person answered. It is returned by the first later
outbound call to the same number, by anyone (linked when calls are stored, see
``ingest.link_callbacks``). The SLA (FUNNELWATCH_CALL_SLA_MINUTES, default 15) counts
working minutes only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from funnelwatch.accounts.models import User
from funnelwatch.telephony import conf, metrics, queries
from funnelwatch.telephony.models import Call


@dataclass
class MissedRow:
    call: Call
    waited_minutes: float  # working minutes since the call (open) or until the callback
    overdue: bool
    who: User | None  # who should call back


# What the page shows of a call; everything else (the raw provider record above all)
# stays in the database. People come from one query for the whole list.
SHOWN = (
    "id",
    "started_at",
    "from_number",
    "from_raw",
    "manager_id",
    "contact_id",
    "deal_id",
    "callback_id",
    "callback_at",
    "contact__name",
    "contact__owner_id",
    "deal__owner_id",
)


def _who_id(call: Call) -> int | None:
    """Who should call back: the contact's owner, else the deal's, else who took the call."""
    if call.contact_id and call.contact.owner_id:
        return call.contact.owner_id
    if call.deal_id:
        return call.deal.owner_id
    return call.manager_id


def _slim(qs: QuerySet[Call], *related: str) -> QuerySet[Call]:
    return qs.select_related(None).select_related("contact", "deal", *related)


def _people(calls: list[Call], *more: int | None) -> dict[int, User]:
    """The managers of ``calls`` (and ``more``), set on each call as its ``manager``."""
    wanted = {c.manager_id for c in calls} | set(more)
    people = User.objects.in_bulk({pk for pk in wanted if pk is not None})
    for call in calls:
        if call.manager_id is not None:
            call.manager = people[call.manager_id]
    return people


def unreturned(user: User, now: dt.datetime, limit: int = 500) -> list[MissedRow]:
    """Missed calls not yet returned, oldest first, with the SLA state. A number that
    called several times appears once per call."""
    sla = conf.call_sla_minutes()
    calls = list(
        _slim(queries.missed_calls(user).filter(callback__isnull=True))
        .only(*SHOWN)
        .order_by("started_at", "pk")[:limit]
    )
    people = _people(calls, *(_who_id(c) for c in calls))
    rows = []
    for call in calls:
        waited = metrics.working_minutes(call.started_at, now)
        who = _who_id(call)
        rows.append(MissedRow(call, round(waited), waited > sla, people.get(who)))
    return rows


def returned(user: User, since: dt.datetime, limit: int = 200) -> list[MissedRow]:
    sla = conf.call_sla_minutes()
    calls = list(
        _slim(
            queries.missed_calls(user).filter(callback__isnull=False, started_at__gte=since),
            "callback",
        )
        .only(*SHOWN, "callback__manager_id")
        .order_by("-started_at", "-pk")[:limit]
    )
    people = _people(calls, *(c.callback.manager_id for c in calls))
    rows = []
    for call in calls:
        took = metrics.working_minutes(call.started_at, call.callback_at)
        who = call.callback.manager_id
        rows.append(MissedRow(call, round(took), took > sla, people.get(who)))
    return rows
