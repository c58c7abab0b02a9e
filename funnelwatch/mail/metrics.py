"""Mail metrics (block "mail"): letters to and from clients, reply time, unanswered letters.

Only client correspondence counts: letters matched to a CRM contact. A letter is credited
to its manager (``Message.owner``) on the local day it was sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.models import Case, Exists, F, Min, OuterRef, Q, QuerySet, When, Window
from django.db.models.expressions import RowRange
from django.db.models.functions import Lag, RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm.metrics import add_objection_attempt_source
from funnelwatch.crm.rollups import owner_at
from funnelwatch.lib.dates import Period, local_date, period_bounds
from funnelwatch.mail.models import Direction, Message
from funnelwatch.metrics.common import LocalDay, day_points
from funnelwatch.metrics.registry import Metric, Point, RecordShape, link_to, record_shape, register

# A thread is followed this far back to find the letter a reply answers.
LOOKBACK = dt.timedelta(days=30)


def _client_letters(period: Period, manager_ids: set[int] | None) -> QuerySet[Message]:
    tz = timezone.get_current_timezone()
    start, end = period_bounds(period, tz)
    qs = Message.objects.filter(
        sent_at__gte=start, sent_at__lt=end, contact__isnull=False, owner__isnull=False
    )
    if manager_ids is not None:
        qs = qs.filter(owner_id__in=manager_ids)
    return qs


def _count(direction: str):
    def compute(period: Period, manager_ids: set[int] | None) -> Iterable[Point]:
        rows = _client_letters(period, manager_ids).filter(direction=direction)
        # One point per manager and day (weight 1), as the letters have always been counted.
        return [
            Point(p.manager_id, p.day, p.value)
            for p in day_points(rows, "owner_id", "sent_at", period)
        ]

    def records(period: Period, manager_ids: set[int] | None) -> QuerySet[Message]:
        return _client_letters(period, manager_ids).filter(direction=direction)

    return compute, records


def _waits(threads: Iterable[str], until: dt.datetime):
    """For each thread, walk its letters in time order: a client's letter starts a wait,
    the manager's next letter ends it. Yields (owner, waited since, answered at or None,
    the letter waited on)."""
    rows = (
        Message.objects.filter(thread__in=list(threads), sent_at__lt=until, contact__isnull=False)
        .order_by("thread", "sent_at", "id")
        .values_list("thread", "direction", "sent_at", "owner_id", "pk")
    )
    current, waiting = None, None
    for thread, direction, sent_at, owner_id, pk in rows:
        if thread != current:
            if waiting:
                yield waiting[0], waiting[1], None, waiting[2]
            current, waiting = thread, None
        if direction == Direction.IN:
            if waiting is None:
                waiting = (owner_id, sent_at, pk)
        elif waiting is not None:
            yield waiting[0], waiting[1], sent_at, waiting[2]
            waiting = None
    if waiting:
        yield waiting[0], waiting[1], None, waiting[2]


def _answered_waits(period: Period, manager_ids: set[int] | None) -> list[tuple]:
    """(owner, local day, waited since, answered at) of the waits :func:`_waits` finds
    that started in the period and were answered, found by the database in one pass over
    the threads: a wait starts at a client's letter whose previous letter in the thread is
    not the client's, and ends at the thread's next letter from the manager."""
    if manager_ids is not None and not manager_ids:
        return []  # nobody's letters (the SQL below cannot be written for no managers)
    start, end = period_bounds(period, timezone.get_current_timezone())
    threads = _client_letters(period, manager_ids).filter(direction=Direction.IN)
    thread = {"partition_by": [F("thread")], "order_by": [F("sent_at").asc(), F("id").asc()]}
    letters = (
        Message.objects.filter(
            thread__in=threads.values("thread"), sent_at__lt=end + LOOKBACK, contact__isnull=False
        )
        .annotate(
            previous=Window(Lag("direction"), **thread),
            answered=Window(
                Min(Case(When(~Q(direction=Direction.IN), then=F("sent_at")))),
                frame=RowRange(start=1, end=None),
                **thread,
            ),
            day=LocalDay("sent_at", period),
        )
        .order_by()
        .values_list("owner_id", "day", "sent_at", "answered", "direction", "previous")
    )
    inner, params = letters.query.sql_with_params()
    ops = connection.ops
    sql = (
        f"SELECT owner_id, day, sent_at, answered FROM ({inner}) letters"
        " WHERE direction = %s AND (previous IS NULL OR previous <> %s)"
        " AND answered IS NOT NULL AND owner_id IS NOT NULL AND sent_at >= %s AND sent_at < %s"
    )
    params = [
        *params,
        Direction.IN.value,
        Direction.IN.value,
        ops.adapt_datetimefield_value(start),
        ops.adapt_datetimefield_value(end),
    ]
    if manager_ids is not None:
        sql += f" AND owner_id IN ({', '.join(['%s'] * len(manager_ids))})"
        params += sorted(manager_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        (owner, _date(day), _moment(since), _moment(answered))
        for owner, day, since, answered in rows
    ]


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _moment(value: object) -> dt.datetime:
    """A moment as the database returned it (SQLite: UTC text) as an aware datetime."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def reply_minutes(period: Period, manager_ids: set[int] | None) -> Iterable[Point]:
    """One sample per answered client letter received in the period: minutes to answer."""
    return [
        Point(owner, day, round((answered - since).total_seconds() / 60, 1))
        for owner, day, since, answered in _answered_waits(period, manager_ids)
    ]


def _waiting_letters(
    now: dt.datetime, manager_ids: set[int] | None
) -> tuple[QuerySet, dt.datetime]:
    """Client letters of recent threads with no letter of the manager after them, each
    numbered within its thread (``nth`` = 1: the letter the thread waits on, as
    :func:`_waits` finds walking the thread), and the moment before which a wait counts."""
    cutoff = now - dt.timedelta(hours=settings.FUNNELWATCH_MAIL_UNANSWERED_HOURS)
    recent = Message.objects.filter(
        direction=Direction.IN,
        contact__isnull=False,
        owner__isnull=False,
        archived_at__isnull=True,
        sent_at__gte=now - LOOKBACK,
        sent_at__lt=cutoff,
    )
    if manager_ids is not None:
        recent = recent.filter(owner_id__in=manager_ids)
    answer_after = Message.objects.filter(
        Q(sent_at__gt=OuterRef("sent_at")) | Q(sent_at=OuterRef("sent_at"), pk__gt=OuterRef("pk")),
        thread=OuterRef("thread"),
        direction=Direction.OUT,
        contact__isnull=False,
        sent_at__lt=now,
    )
    letters = (
        Message.objects.filter(
            thread__in=recent.values("thread"),
            direction=Direction.IN,
            contact__isnull=False,
            sent_at__lt=now,
        )
        .exclude(Exists(answer_after))
        .annotate(
            nth=Window(RowNumber(), partition_by=F("thread"), order_by=[F("sent_at"), F("id")]),
            overdue=Case(When(sent_at__lt=cutoff, then=1), default=0),
        )
    )
    return letters, cutoff


def _unanswered(now: dt.datetime, manager_ids: set[int] | None) -> list[tuple[int, int]]:
    """(manager, letter id) of client letters waiting longer than the setting."""
    letters, _cutoff = _waiting_letters(now, manager_ids)
    # Only the window condition in the filter: others would apply before the numbering.
    rows = letters.filter(nth=1).values_list("owner_id", "pk", "overdue")
    return [
        (o, pk)
        for o, pk, overdue in rows
        if overdue and o is not None and (manager_ids is None or o in manager_ids)
    ]


def _unanswered_counts(now: dt.datetime, manager_ids: set[int] | None) -> dict[int, int]:
    """{manager: client letters waiting longer than the setting}, counted by the database."""
    if manager_ids is not None and not manager_ids:
        return {}  # nobody's letters (the SQL below cannot be written for no managers)
    letters, _cutoff = _waiting_letters(now, manager_ids)
    sql, params = letters.values("owner_id", "nth", "overdue").query.sql_with_params()
    where = "nth = 1 AND overdue = 1 AND owner_id IS NOT NULL"
    if manager_ids is not None:
        where += f" AND owner_id IN ({', '.join(str(int(m)) for m in manager_ids) or 'NULL'})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT owner_id, COUNT(*) FROM ({sql}) w WHERE {where} GROUP BY owner_id", params
        )
        return dict(cursor.fetchall())


def unanswered(period: Period, manager_ids: set[int] | None) -> Iterable[Point]:
    now = timezone.now()
    counts = _unanswered_counts(now, manager_ids)
    today = local_date(now, timezone.get_current_timezone())
    return [Point(m, today, n) for m, n in sorted(counts.items())]


def unanswered_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Message]:
    ids = [pk for _owner, pk in _unanswered(timezone.now(), manager_ids)]
    return Message.objects.filter(pk__in=ids)


def reply_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Message]:
    return _client_letters(period, manager_ids).filter(direction=Direction.IN)


# Objection handling by e-mail: the manager's letters on a deal standing in an objections
# stage (a client's letter is the client's attempt, not the manager's).
add_objection_attempt_source(Message, "sent_at", Q(direction=Direction.OUT))


def touched_by_letters(message_ids: list[int]) -> list[tuple[int, dt.datetime]]:
    """(manager, moment) of every number stored letters change (see ``ingest.notify``):
    each letter's own (counts), the client letters of their threads that a wait may start
    at within :data:`LOOKBACK` either side (reply times: an answer ends an earlier wait,
    a client's letter may start or join one), and the deal's owner at a letter the
    manager sent on a deal (objection attempts)."""
    out: list[tuple[int, dt.datetime]] = []
    for start in range(0, len(message_ids), 500):
        letters = Message.objects.filter(pk__in=message_ids[start : start + 500])
        rows = list(letters.values_list("owner_id", "sent_at", "thread"))
        if not rows:
            continue
        out += [(owner, at) for owner, at, _thread in rows if owner]
        threads = {thread for _o, _at, thread in rows}
        earliest = min(at for _o, at, _t in rows) - LOOKBACK
        latest = max(at for _o, at, _t in rows) + LOOKBACK
        out += list(
            Message.objects.filter(
                thread__in=threads,
                direction=Direction.IN,
                owner__isnull=False,
                sent_at__gte=earliest,
                sent_at__lte=latest,
            ).values_list("owner_id", "sent_at")
        )
        out += [
            (owner, at)
            for owner, at in letters.filter(direction=Direction.OUT, deal__isnull=False)
            .annotate(credited=owner_at("deal", "sent_at"))
            .values_list("credited", "sent_at")
            if owner
        ]
    return out


_sent, _sent_records = _count(Direction.OUT)
_received, _received_records = _count(Direction.IN)

register(
    Metric(
        key="emails_sent",
        block="mail",
        label=_("Letters to clients"),
        unit="count",
        kind="sum",
        compute=_sent,
        good="up",
        records=_sent_records,
        description=_("Letters the manager sent to CRM contacts (CRM, mailbox or BCC)."),
    )
)
register(
    Metric(
        key="emails_received",
        block="mail",
        label=_("Letters from clients"),
        unit="count",
        kind="sum",
        compute=_received,
        good="none",
        records=_received_records,
        description=_("Letters from CRM contacts credited to the manager."),
    )
)
register(
    Metric(
        key="email_reply_minutes",
        block="mail",
        label=_("Time to answer a client's letter"),
        unit="minutes",
        kind="median",
        compute=reply_minutes,
        good="down",
        records=reply_records,
        description=_(
            "Median minutes from a client's letter to the manager's next letter in the "
            "thread (calendar time)."
        ),
    )
)
register(
    Metric(
        key="emails_unanswered",
        block="mail",
        label=_("Client letters left unanswered"),
        unit="count",
        kind="live",
        compute=unanswered,
        good="down",
        records=unanswered_records,
        description=_(
            "Client letters of the last 30 days with no answer in the thread for "
            "longer than FUNNELWATCH_MAIL_UNANSWERED_HOURS."
        ),
    )
)

record_shape(
    Message,
    RecordShape(
        when=("sent_at",),
        who="owner",
        deal="deal",
        contact="contact",
        link=link_to("mail:message"),
        label=lambda m: m.subject or _("(no subject)"),
        detail=lambda m: m.get_direction_display(),
        related=("owner", "deal", "contact"),
    ),
)
