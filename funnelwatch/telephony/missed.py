"""Missed calls and callbacks: the one definition the missed-calls page, the alerts and
the morning meeting share.

A missed call is an inbound call no person answered. It is returned by the first later
outbound call to the same number, by anyone (linked when calls are stored, see
``ingest.link_callbacks``); a later call from the client that someone answered settles
it too. Until then it *waits* (:func:`waiting`). Its SLA (FUNNELWATCH_CALL_SLA_MINUTES,
default 15) counts working minutes only: a call missed at night or on a day off is due
that many minutes after the next opening (:func:`due_at`), and is over the SLA from then
on (:func:`over_sla`). A call from a hidden number cannot be returned and does not wait.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.lib.dates import working_deadline
from funnelwatch.telephony import metrics, queries
from funnelwatch.telephony.models import Call, CallOutcome, Direction


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


def waiting(calls: QuerySet[Call]) -> QuerySet[Call]:
    """The missed calls among ``calls`` still waiting for a callback: not linked to one,
    no later outbound call to the number, no later answered call from it, not archived,
    and from a number that can be called back."""
    later = Call.objects.active().filter(
        client_number=OuterRef("client_number"), started_at__gt=OuterRef("started_at")
    )
    return _missed(calls).exclude(Exists(later.filter(SETTLES)))


# What settles every missed call before it from the same number: a call to the number,
# or a call from it that someone answered.
SETTLES = Q(direction=Direction.OUT) | Q(direction=Direction.IN, outcome=CallOutcome.ANSWERED)


def _missed(calls: QuerySet[Call]) -> QuerySet[Call]:
    """Missed calls among ``calls`` that no callback is linked to (settled or not)."""
    return (
        calls.filter(direction=Direction.IN, callback__isnull=True, archived_at__isnull=True)
        .exclude(outcome=CallOutcome.ANSWERED)
        .exclude(client_number="")
    )


def _settled_at(numbers: Collection[str] | None) -> dict[str, dt.datetime]:
    """When each client number last had a call that settles its missed calls: a missed
    call waits (:func:`waiting`) exactly when it is not older than that."""
    calls = Call.objects.active().filter(SETTLES)
    if numbers is not None:
        calls = calls.filter(client_number__in=numbers)
    return dict(
        calls.order_by()
        .values("client_number")
        .annotate(at=Max("started_at"))
        .values_list("client_number", "at")
    )


def waited_minutes(call: Call, now: dt.datetime) -> float:
    """Working minutes the call has waited by ``now`` (0 until the first opening after it)."""
    return metrics.working_minutes(call.started_at, now)


def over_sla(call: Call, now: dt.datetime) -> bool:
    """Whether the waiting call is over its SLA at ``now`` (``now`` is past :func:`due_at`)."""
    return waited_minutes(call, now) > settings.FUNNELWATCH_CALL_SLA_MINUTES


def due_at(started_at: dt.datetime) -> dt.datetime:
    """When a call missed at ``started_at`` falls due: SLA working minutes after it, counted
    from the next opening when it came outside working hours."""
    return working_deadline(
        started_at,
        settings.FUNNELWATCH_CALL_SLA_MINUTES,
        timezone.get_current_timezone(),
        list(settings.FUNNELWATCH_WORKDAYS),
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def overdue_numbers(
    now: dt.datetime, numbers: Collection[str] | None = None
) -> dict[str, list[Call]]:
    """Client numbers with a call waiting past its SLA at ``now``, each with all its
    waiting calls, oldest first (the oldest waited longest: it is the one over the SLA).
    The alerts name exactly these numbers; the missed-calls page marks their calls.
    With ``numbers``, only those are looked at."""
    # What :func:`waiting` says, in two plain reads instead of two lookups per missed call
    # (which at thousands of calls never returned took half a minute).
    by_number: dict[str, list[Call]] = {}
    settled = _settled_at(numbers)
    calls = _missed(
        Call.objects.all() if numbers is None else Call.objects.filter(client_number__in=numbers)
    ).only("pk", "client_number", "started_at", "manager_id", "deal_id")
    for call in calls.order_by("started_at", "pk"):
        last = settled.get(call.client_number)
        if last is None or call.started_at >= last:
            by_number.setdefault(call.client_number, []).append(call)
    return {n: calls for n, calls in by_number.items() if over_sla(calls[0], now)}


def overdue_newest_first(now: dt.datetime, chunk: int = 200) -> Iterator[dict[str, list[Call]]]:
    """The numbers of :func:`overdue_numbers`, the one whose wait began last first, in
    chunks of ``chunk`` numbers: a page that shows the newest few reads the calls of those
    numbers only, however many calls have waited for months. The order (each number's
    oldest waiting call) comes from one grouped query, the same definition as
    :func:`waiting`; :func:`overdue_numbers` then checks the SLA of each chunk, so a
    chunk may hold fewer numbers (those not due yet are left out)."""
    # One grouped read: each waiting number, by its oldest waiting call, newest first.
    missed_sql, missed_params = (
        _missed(Call.objects.all()).order_by().values("client_number", "started_at").query
    ).sql_with_params()
    settled_sql, settled_params = (
        Call.objects.active()
        .filter(SETTLES)
        .order_by()
        .values("client_number")
        .annotate(at=Max("started_at"))
        .query
    ).sql_with_params()
    sql = (
        f"SELECT m.client_number, MIN(m.started_at) FROM ({missed_sql}) m "
        f"LEFT JOIN ({settled_sql}) s ON s.client_number = m.client_number "
        "WHERE s.at IS NULL OR m.started_at >= s.at "
        "GROUP BY m.client_number ORDER BY MIN(m.started_at) DESC, m.client_number DESC"
    )
    with connection.cursor() as cur:
        cur.execute(sql, (*missed_params, *settled_params))
        numbers = [number for number, _ in cur.fetchall()]

    def read(numbers: list[str]) -> dict[str, list[Call]]:
        found = overdue_numbers(now, numbers)
        return {n: found[n] for n in numbers if n in found}

    pending: list[str] = []
    for number in numbers:
        pending.append(number)
        if len(pending) == chunk:
            yield read(pending)
            pending = []
    if pending:
        yield read(pending)


def unreturned(user: User, now: dt.datetime, limit: int = 500) -> list[MissedRow]:
    """Missed calls waiting for a callback, oldest first, with the SLA state. A number
    that called several times appears once per call."""
    calls = list(
        _slim(waiting(queries.missed_calls(user))).only(*SHOWN).order_by("started_at", "pk")[:limit]
    )
    people = _people(calls, *(_who_id(c) for c in calls))
    rows = []
    for call in calls:
        waited = waited_minutes(call, now)
        who = _who_id(call)
        rows.append(MissedRow(call, round(waited), over_sla(call, now), people.get(who)))
    return rows


def returned(user: User, since: dt.datetime, limit: int = 200) -> list[MissedRow]:
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
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
