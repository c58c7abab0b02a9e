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
from django.db.models.expressions import RawSQL
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.lib.dates import working_deadline
from funnelwatch.telephony import metrics, queries
from funnelwatch.telephony.models import (
    UNRETURNED,
    UNRETURNED_BY_NUMBER,
    UNRETURNED_BY_START,
    Call,
    CallOutcome,
    Direction,
    unreturned_sql,
)


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


@dataclass(frozen=True, slots=True)
class Waiting:
    """A waiting call as the alerts and the morning meeting need it (what they name),
    without the cost of a whole call object: thousands are read at a time."""

    pk: int
    client_number: str
    started_at: dt.datetime
    manager_id: int | None
    deal_id: int | None


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
    return calls.filter(UNRETURNED, archived_at__isnull=True).exclude(client_number="")


def _settled_at(numbers: Collection[str] | None) -> dict[str, dt.datetime]:
    """When each client number last had a call that settles its missed calls: a missed
    call waits (:func:`waiting`) exactly when it is not older than that."""
    calls = Call.objects.active().filter(SETTLES)
    if numbers is not None:
        calls = calls.filter(client_number__in=numbers)
        if connection.vendor == "sqlite":
            # Without ANALYZE statistics SQLite reads every outbound call for the
            # condition on the direction instead of the few calls of these numbers.
            calls = Call.objects.filter(
                pk__in=RawSQL(*_indexed(calls.values("id"), _BY_NUMBER_AND_START))
            )
    return dict(
        calls.order_by()
        .values("client_number")
        .annotate(at=Max("started_at"))
        .values_list("client_number", "at")
    )


def _unreturned_index(
    calls: QuerySet[Call], index: str, order: tuple[str, ...] = (), limit: int | None = None
) -> QuerySet[Call]:
    """``calls`` (missed calls no callback is linked to; in ``order``, the first ``limit``)
    read through ``index``, one of the partial indexes of such calls (telephony.models:
    ``call_unreturned_started`` by start, ``call_unreturned_missed`` by number and start),
    as ``pk IN (...)``: order the result again.

    SQLite uses a partial index only when the query states its condition with the same
    constants (bound parameters do not count: ``unreturned_sql`` writes them out), and without
    ANALYZE statistics it prefers the (direction, outcome, started_at) index: it then
    reads and sorts every inbound call. With 300,000 missed calls that was 3 s a read, and
    26 s for the missed-calls page, against 0.2 s told which index to read."""
    ids = calls.extra(where=[unreturned_sql()]).order_by(*order).values("id")
    if limit is not None:
        ids = ids[:limit]
    return Call.objects.filter(pk__in=RawSQL(*_indexed(ids, index)))


def _indexed(calls: QuerySet[Call], index: str) -> tuple[str, tuple]:
    """The SQL of ``calls``, on SQLite told to read ``index``."""
    sql, params = calls.query.sql_with_params()
    if connection.vendor == "sqlite":
        table = connection.ops.quote_name(Call._meta.db_table)
        head, found, rest = sql.partition(f"FROM {table}")
        assert found, sql
        sql = f"{head}FROM {table} INDEXED BY {connection.ops.quote_name(index)}{rest}"
    return sql, params


# The (client_number, started_at) index of all calls (its name is Django's).
_BY_NUMBER_AND_START = next(
    i.name
    for i in Call._meta.indexes
    if i.fields == ["client_number", "started_at"] and i.condition is None
)


def oldest_waiting(calls: QuerySet[Call], limit: int) -> QuerySet[Call]:
    """The ``limit`` calls among ``calls`` that have waited longest (:func:`waiting`),
    read through the index of unreturned calls by start: order the result again."""
    return _unreturned_index(waiting(calls), UNRETURNED_BY_START, ("started_at", "pk"), limit)


def waited_minutes(call: Call | Waiting, now: dt.datetime) -> float:
    """Working minutes the call has waited by ``now`` (0 until the first opening after it)."""
    return metrics.working_minutes(call.started_at, now)


def over_sla(call: Call | Waiting, now: dt.datetime) -> bool:
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


def _waiting_by_number(numbers: Collection[str] | None) -> dict[str, list[Waiting]]:
    """Each of ``numbers`` (all numbers with ``None``) that has waiting calls, with those
    calls oldest first: what :func:`waiting` says, in two plain reads instead of two
    lookups per missed call (which at thousands of calls never returned took half a
    minute)."""
    by_number: dict[str, list[Waiting]] = {}
    if numbers is not None and not numbers:
        return by_number
    settled = _settled_at(numbers)
    calls = _missed(Call.objects.all())
    if numbers is not None:
        calls = _unreturned_index(calls.filter(client_number__in=numbers), UNRETURNED_BY_NUMBER)
    rows = calls.order_by("started_at", "pk").values_list(
        "pk", "client_number", "started_at", "manager_id", "deal_id"
    )
    for row in rows:
        last = settled.get(row[1])
        if last is None or row[2] >= last:
            by_number.setdefault(row[1], []).append(Waiting(*row))
    return by_number


def overdue_numbers(
    now: dt.datetime, numbers: Collection[str] | None = None
) -> dict[str, list[Waiting]]:
    """Client numbers with a call waiting past its SLA at ``now``, each with all its
    waiting calls, oldest first (the oldest waited longest: it is the one over the SLA).
    The alerts name exactly these numbers; the missed-calls page marks their calls.
    With ``numbers``, only those are looked at."""
    by_number = _waiting_by_number(numbers)
    return {n: calls for n, calls in by_number.items() if over_sla(calls[0], now)}


# How many reads, newest first, before :func:`overdue_newest_first` orders the rest with
# one grouped query.
NEWEST_FIRST_READS = 8


def overdue_newest_first(now: dt.datetime, chunk: int = 200) -> Iterator[dict[str, list[Waiting]]]:
    """The numbers of :func:`overdue_numbers`, the one whose wait began last (its oldest
    waiting call is the newest) first, a chunk at a time: a page that shows the newest few
    reads only what it needs, however many calls have waited for months.

    Missed calls are read newest first, ``chunk`` at first and twice as many each time
    after. Each number met is read in full (:func:`_waiting_by_number`), so when its wait
    began is known. Once the reading has gone back to moment ``T``, a number not met yet
    has all its missed calls at ``T`` or before: its wait began earlier than that of every
    number whose wait began after ``T``, and those are given out, in order. Where calls
    are returned as they should be, the first reads are enough; where thousands have
    waited for months, after ``NEWEST_FIRST_READS`` reads (or two reads in a row that
    made no number's place certain) one grouped query orders the numbers not given out
    yet (:func:`_waiting_numbers_newest_first`), and their calls are read ``chunk``
    numbers at a time."""
    # The numbers met whose place is not certain yet, with their waiting calls; a number
    # met and not here was given out, or has no call waiting.
    pending: dict[str, list[Waiting]] = {}
    met: set[str] = set()

    def give_out(ready: list[str]) -> dict[str, list[Waiting]]:
        ready.sort(key=lambda n: (pending[n][0].started_at, n), reverse=True)
        calls = {n: pending.pop(n) for n in ready}
        return {n: c for n, c in calls.items() if over_sla(c[0], now)}

    step = max(1, chunk)
    since: dt.datetime | None = None  # the oldest moment read so far
    size, idle = step, 0  # idle: reads in a row after which no place was certain
    for _read in range(NEWEST_FIRST_READS):
        # From ``since`` on again (calls at that very moment may not all have been read);
        # the numbers already met are not read twice.
        page = _missed(Call.objects.all())
        if since is not None:
            page = page.filter(started_at__lte=since)
        rows = list(
            _unreturned_index(page, UNRETURNED_BY_START, ("-started_at", "-pk"), size)
            .order_by("-started_at", "-pk")
            .values_list("client_number", "started_at")
        )
        new = {number for number, _at in rows} - met
        met |= new
        if new:
            pending.update(_waiting_by_number(new))
        if len(rows) < size:  # everything read: every number met
            if found := give_out(list(pending)):
                yield found
            return
        since = rows[-1][1]
        ready = [n for n, calls in pending.items() if calls[0].started_at > since]
        idle = 0 if ready else idle + 1
        if found := give_out(ready):
            yield found
        if idle == 2:  # a backlog: the numbers met have waited since before all this
            break
        size *= 2
    # The rest in the order one grouped query gives, read a chunk of numbers at a time.
    rest = [n for n in _waiting_numbers_newest_first() if n in pending or n not in met]
    for i in range(0, len(rest), step):
        part = rest[i : i + step]
        found = _waiting_by_number([n for n in part if n not in pending])
        found.update({n: pending[n] for n in part if n in pending})
        if overdue := {n: found[n] for n in part if n in found and over_sla(found[n][0], now)}:
            yield overdue


def _waiting_numbers_newest_first() -> list[str]:
    """Every number with waiting calls, the one whose wait began last first (the same
    number first on a tie, as :func:`overdue_newest_first` orders them): one grouped
    query, each missed call against its number's last settling call (:func:`_settled_at`)."""
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
        return [number for number, _first in cur.fetchall()]


def unreturned(user: User, now: dt.datetime, limit: int = 500) -> list[MissedRow]:
    """Missed calls waiting for a callback, oldest first, with the SLA state. A number
    that called several times appears once per call."""
    oldest = oldest_waiting(queries.missed_calls(user), limit)
    calls = list(_slim(oldest).only(*SHOWN).order_by("started_at", "pk"))
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
