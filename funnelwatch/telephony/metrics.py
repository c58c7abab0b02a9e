"""Telephony metrics (docs/metrics.md, telephony; and the intake metrics that need real calls).

A call is credited to its manager (the extension that made or took it); a missed call
nobody took is credited to the manager it rang, else to the client's owner. Days are
local days of the call's start. Callback times are counted in working minutes
(FUNNELWATCH_WORKDAYS, FUNNELWATCH_WORKDAY_START/END), like the SLA
(FUNNELWATCH_CALL_SLA_MINUTES).

The metrics app learns about new calls through ``crm_event`` (kind "call",
``user_ids`` = the managers whose calls were stored), sent after every ingested batch.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Case, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm.metrics import add_objection_attempt_source, creation_owner
from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.lib import dates
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import LocalDay, day_points
from funnelwatch.metrics.registry import Metric, Point, RecordShape, link_to, record_shape, register
from funnelwatch.telephony.models import Call, CallOutcome, Direction


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    return dates.period_bounds(period, timezone.get_current_timezone())


def _calls(period: Period, manager_ids: set[int] | None, **filters) -> QuerySet[Call]:
    since, until = _bounds(period)
    qs = Call.objects.active().filter(started_at__gte=since, started_at__lt=until, **filters)
    qs = qs.annotate(credit=Coalesce("manager_id", "contact__owner_id"))
    qs = qs.filter(credit__isnull=False)
    if manager_ids is not None:
        qs = qs.filter(credit__in=manager_ids)
    return qs


def working_minutes(start: dt.datetime, end: dt.datetime) -> float:
    return dates.working_minutes_between(
        start,
        end,
        timezone.get_current_timezone(),
        settings.FUNNELWATCH_WORKDAYS,
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def _count(qs: QuerySet[Call], period: Period) -> list[Point]:
    return day_points(qs, "credit", "started_at", period)


def calls_out(period: Period, manager_ids: set[int] | None) -> list[Point]:
    return _count(_calls(period, manager_ids, direction=Direction.OUT), period)


def calls_in(period: Period, manager_ids: set[int] | None) -> list[Point]:
    return _count(_calls(period, manager_ids, direction=Direction.IN), period)


def _connected(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
    return _calls(period, manager_ids, outcome=CallOutcome.ANSWERED).exclude(
        direction=Direction.INTERNAL
    )


def calls_connected(period: Period, manager_ids: set[int] | None) -> list[Point]:
    return _count(_connected(period, manager_ids), period)


# Talk time of a call in hundredths of a minute, rounded as round(seconds / 60, 2) does
# (seconds * 100 / 60 never ends in exactly one half, so there is no tie to break).
_TALK_HUNDREDTHS = (F("talk_seconds") * 10 + 3) / 6


def talk_minutes(period: Period, manager_ids: set[int] | None) -> list[Point]:
    """Minutes per call rounded to hundredths, summed exactly by the database."""
    return day_points(
        _connected(period, manager_ids), "credit", "started_at", period, _TALK_HUNDREDTHS, scale=100
    )


def _missed(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
    return _calls(period, manager_ids, direction=Direction.IN).exclude(outcome=CallOutcome.ANSWERED)


def missed_in(period: Period, manager_ids: set[int] | None) -> list[Point]:
    return _count(_missed(period, manager_ids), period)


def _callbacks(period: Period, qs: QuerySet[Call]):
    """(credit, local day, started, returned at) of missed calls, the day from the database."""
    return (
        qs.annotate(day=LocalDay("started_at", period))
        .order_by()
        .values_list("credit", "day", "started_at", "callback_at")
    )


def callback_pct(period: Period, manager_ids: set[int] | None) -> list[Point]:
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    # Calls never returned fail the SLA: the database counts them without their times.
    missed = _missed(period, manager_ids)
    out = [
        Point(p.manager_id, p.day, 0, p.weight)
        for p in day_points(missed.filter(callback_at__isnull=True), "credit", "started_at", period)
    ]
    returned = missed.filter(callback_at__isnull=False)
    for credit, day, started, back in _callbacks(period, returned):
        out.append(Point(credit, day, 1 if working_minutes(started, back) <= sla else 0, 1))
    return out


def callback_minutes(period: Period, manager_ids: set[int] | None) -> list[Point]:
    returned = _missed(period, manager_ids).filter(callback_at__isnull=False)
    return [
        Point(credit, day, round(working_minutes(started, back), 1))
        for credit, day, started, back in _callbacks(period, returned)
    ]


def _missed_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
    return _missed(period, manager_ids).select_related("manager", "contact")


def _call_records(direction: str | None = None, answered: bool = False):
    def records(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
        extra: dict = {}
        if direction:
            extra["direction"] = direction
        if answered:
            extra["outcome"] = CallOutcome.ANSWERED
        return _calls(period, manager_ids, **extra).select_related("manager", "contact")

    return records


# --- intake: leads and their first call --------------------------------------------


def _new_leads(period: Period, manager_ids: set[int] | None) -> QuerySet[Deal]:
    """The period's new leads, each with ``first_owner``: its owner at creation, who the
    lead's numbers belong to (as ``leads_received`` counts it), whoever owns it now."""
    since, until = _bounds(period)
    qs = Deal.objects.filter(created_at__gte=since, created_at__lt=until).annotate(
        first_owner=creation_owner()
    )
    qs = qs.filter(first_owner__isnull=False)
    if manager_ids is not None:
        qs = qs.filter(first_owner__in=manager_ids)
    return qs


def _outbound_after_creation(**where: object) -> QuerySet[Call]:
    """Outbound call attempts after the (outer) deal was created, as a subquery."""
    return Call.objects.active().filter(
        direction=Direction.OUT, started_at__gte=OuterRef("created_at"), **where
    )


def _by_deal() -> QuerySet[Call]:
    return _outbound_after_creation(deal_id=OuterRef("pk"))


def _to_number() -> QuerySet[Call]:
    """Outbound call attempts to the (outer) contact phone's number after its (outer,
    outer) deal was created: asked number by number, each is one step down the (client
    number, start) index; asked for all the contact's numbers at once (``client_number IN
    (...)``), SQLite walks every outbound call since the deal's creation, for every lead."""
    return Call.objects.active().filter(
        direction=Direction.OUT,
        client_number=OuterRef("number"),
        started_at__gte=OuterRef(OuterRef("created_at")),
    )


def _contact_phones() -> QuerySet[ContactPhone]:
    return ContactPhone.objects.filter(contact_id=OuterRef("contact_id"))


def _called_by_number() -> Exists:
    return Exists(_contact_phones().filter(Exists(_to_number())))


def _first(calls: QuerySet[Call]) -> Subquery:
    """The start of the earliest of ``calls``, asked as the first row by start: the
    planners can take it from an index ending in the start ((deal, start)) with one step,
    where a minimum over the rows may read every outbound call since the deal's creation
    through the (direction, outcome, start) index."""
    return Subquery(calls.order_by("started_at").values("started_at")[:1])


def _first_by_number() -> Subquery:
    """The first outbound call attempt after the (outer) deal was created to any of its
    contact's numbers: the earliest of each number's first (see :func:`_to_number`)."""
    per_number = _to_number().order_by("started_at").values("started_at")[:1]
    return Subquery(
        _contact_phones()
        .annotate(first=Subquery(per_number))
        .order_by()
        .values("contact_id")
        .annotate(earliest=Min("first"))
        .values("earliest")
    )


def _leads_first_calls(period: Period, manager_ids: set[int] | None):
    """(owner, local day of creation, created, first call or None) of the period's new
    leads: the first outbound call attempt after the deal was created, to any of its
    contact's numbers or filed on the deal itself."""
    qs = (
        _new_leads(period, manager_ids)
        .annotate(
            day=LocalDay("created_at", period),
            first_by_deal=_first(_by_deal()),
            first_by_number=_first_by_number(),
        )
        .order_by()
        .values_list("first_owner", "day", "created_at", "first_by_deal", "first_by_number")
    )
    for owner, day, created, by_deal, by_number in qs:
        first = min((t for t in (by_deal, by_number) if t is not None), default=None)
        yield owner, day, created, first


def speed_to_first_call(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    for owner, day, created, first in _leads_first_calls(period, manager_ids):
        if first is not None:
            yield Point(owner, day, round((first - created).total_seconds() / 60, 1))


def leads_called_pct(period: Period, manager_ids: set[int] | None) -> list[Point]:
    called = Case(When(Exists(_by_deal()) | _called_by_number(), then=1), default=0)
    return day_points(
        _new_leads(period, manager_ids), "first_owner", "created_at", period, value=called
    )


def leads_called_sla_pct(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    for owner, day, created, first in _leads_first_calls(period, manager_ids):
        ok = first is not None and working_minutes(created, first) <= sla
        yield Point(owner, day, 1 if ok else 0, 1)


def _lead_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Deal]:
    return _new_leads(period, manager_ids).select_related("owner", "contact")


# Objection handling by phone: every call on a deal standing in an objections stage but
# an internal one and an inbound one nobody answered (that is the client's attempt).
add_objection_attempt_source(
    Call,
    "started_at",
    Q(direction=Direction.OUT) | Q(direction=Direction.IN, outcome=CallOutcome.ANSWERED),
)


# (deal id, direction, client number, start) of a stored call: what decides which
# numbers besides its manager's it changes.
CallFacts = tuple[int | None, str, str, dt.datetime]

_IN_CHUNK = 900  # parameters per IN (...) query, below SQLite's limit


def call_facts(call_ids: list[int]) -> list[CallFacts]:
    """The :data:`CallFacts` of these calls (archived ones left out)."""
    out: list[CallFacts] = []
    for start in range(0, len(call_ids), _IN_CHUNK):
        out += (
            Call.objects.active()
            .filter(pk__in=call_ids[start : start + _IN_CHUNK])
            .values_list("deal_id", "direction", "client_number", "started_at")
        )
    return out


def touched_by_calls(calls: list[CallFacts]) -> list[tuple[int, dt.datetime]]:
    """(manager, moment) of the numbers stored calls change besides their own manager's
    day (see ``ingest._notify``): the deal's owner at the call (objection attempts), and
    the new leads whose first outbound call is now one of them: their owner at creation,
    on the day of creation (speed to first call, leads called).

    ``calls``: :data:`CallFacts` of active calls already stored. A fixed number of queries
    per thousand leads or deals concerned, whatever the number of calls."""
    out = _owners_at_calls([(deal, at) for deal, _d, _n, at in calls if deal])
    outbound = [(deal, n, at) for deal, direction, n, at in calls if direction == Direction.OUT]
    if outbound:
        out += _leads_first_called(outbound)
    return out


def _owners_at_calls(calls: list[tuple[int, dt.datetime]]) -> list[tuple[int, dt.datetime]]:
    """(the deal's owner at the call, start) of each (deal, start): what ``owner_at``
    says (the last owner change at or before it, else the current owner), from each
    deal's history read once."""
    if not calls:
        return []
    from funnelwatch.crm.models import OwnerChange

    deals = sorted({deal for deal, _at in calls})
    owner: dict[int, int | None] = {}
    history: dict[int, list[tuple[dt.datetime, int, int | None]]] = {}
    for start in range(0, len(deals), _IN_CHUNK):
        part = deals[start : start + _IN_CHUNK]
        owner.update(Deal.objects.filter(pk__in=part).values_list("pk", "owner_id"))
        for deal, at, pk, to_owner in OwnerChange.objects.filter(deal_id__in=part).values_list(
            "deal_id", "at", "pk", "to_owner_id"
        ):
            history.setdefault(deal, []).append((at, pk, to_owner))
    moments = {}
    for changes in history.values():
        changes.sort(key=lambda change: (change[0], change[1]))
    for deal, changes in history.items():
        moments[deal] = [at for at, _pk, _to in changes]
    out = []
    for deal, at in calls:
        who = None
        changes = history.get(deal)
        if changes:
            i = bisect.bisect_right(moments[deal], at)
            if i:
                who = changes[i - 1][2]
        who = who or owner.get(deal)
        if who:
            out.append((who, at))
    return out


def _leads_first_called(
    outbound: list[tuple[int | None, str, dt.datetime]],
) -> list[tuple[int, dt.datetime]]:
    """(owner at creation, creation) of the deals whose first outbound call after their
    creation (on the deal, or to one of their contact's numbers) is one of these calls:
    the earliest of them that concerns the deal, with no other call before it."""
    by_deal: dict[int, list[dt.datetime]] = {}
    by_number: dict[str, list[dt.datetime]] = {}
    for deal, number, at in outbound:
        if deal:
            by_deal.setdefault(deal, []).append(at)
        if number:
            by_number.setdefault(number, []).append(at)
    for times in (*by_deal.values(), *by_number.values()):
        times.sort()
    latest = max(at for _d, _n, at in outbound)

    numbers_of: dict[int, list[str]] = {}
    numbers = sorted(by_number)
    for start in range(0, len(numbers), _IN_CHUNK):
        for contact, number in ContactPhone.objects.filter(
            number__in=numbers[start : start + _IN_CHUNK]
        ).values_list("contact_id", "number"):
            numbers_of.setdefault(contact, []).append(number)

    def first_after(times: list[dt.datetime] | None, since: dt.datetime) -> dt.datetime | None:
        if not times:
            return None
        i = bisect.bisect_left(times, since)
        return times[i] if i < len(times) else None

    concerned: dict[int, tuple[int, dt.datetime, dt.datetime, int]] = {}
    contacts, deal_ids = sorted(numbers_of), sorted(by_deal)
    for where, keys in (("contact_id__in", contacts), ("pk__in", deal_ids)):
        for start in range(0, len(keys), _IN_CHUNK):
            for pk, contact, created, owner in (
                Deal.objects.filter(
                    created_at__lte=latest, **{where: keys[start : start + _IN_CHUNK]}
                )
                .annotate(first_owner=creation_owner())
                .values_list("pk", "contact_id", "created_at", "first_owner")
            ):
                if not owner or pk in concerned:
                    continue
                firsts = [first_after(by_deal.get(pk), created)]
                firsts += [first_after(by_number[n], created) for n in numbers_of.get(contact, ())]
                first = min((t for t in firsts if t is not None), default=None)
                if first is not None:
                    concerned[pk] = (contact or 0, created, first, owner)
    if not concerned:
        return []
    return [(concerned[pk][3], concerned[pk][1]) for pk in _not_called_before(concerned)]


def _not_called_before(
    concerned: dict[int, tuple[int, dt.datetime, dt.datetime, int]],
) -> list[int]:
    """The deals (pk → (contact or 0, created, moment, owner)) without an outbound call
    from their creation to before that moment, on the deal or to their contact's numbers.
    Each probe is a step down the (deal, start) or (client number, start) index."""
    from django.db import connection

    quote = connection.ops.quote_name
    calls, phones = quote(Call._meta.db_table), quote(ContactPhone._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    out = []
    items = sorted(concerned.items())
    step = _IN_CHUNK // 4
    window = (
        f"c.direction = '{Direction.OUT}' AND c.archived_at IS NULL "
        "AND c.started_at >= v.column3 AND c.started_at < v.column4"
    )
    with connection.cursor() as cur:
        for start in range(0, len(items), step):
            part = items[start : start + step]
            cur.execute(
                f"SELECT v.column1 FROM (VALUES {', '.join(['(%s, %s, %s, %s)'] * len(part))}) "
                f"AS v WHERE NOT EXISTS (SELECT 1 FROM {calls} c WHERE c.deal_id = v.column1 "
                f"AND {window}) AND NOT EXISTS (SELECT 1 FROM {phones} p JOIN {calls} c "
                f"ON c.client_number = p.number WHERE p.contact_id = v.column2 AND {window})",
                [
                    v
                    for pk, (contact, created, first, _owner) in part
                    for v in (pk, contact, adapt(created), adapt(first))
                ],
            )
            out += [row[0] for row in cur.fetchall()]
    return out


register(
    Metric(
        "calls_out",
        "telephony",
        _("Outbound calls"),
        "count",
        "sum",
        calls_out,
        records=_call_records(Direction.OUT),
    )
)
register(
    Metric(
        "calls_in",
        "telephony",
        _("Inbound calls"),
        "count",
        "sum",
        calls_in,
        records=_call_records(Direction.IN),
    )
)
register(
    Metric(
        "calls_connected",
        "telephony",
        _("Calls connected"),
        "count",
        "sum",
        calls_connected,
        records=_call_records(answered=True),
    )
)
register(
    Metric(
        "talk_minutes",
        "telephony",
        _("Talk time, minutes"),
        "minutes",
        "sum",
        talk_minutes,
        records=_call_records(answered=True),
    )
)
register(
    Metric(
        "missed_in",
        "telephony",
        _("Missed inbound calls"),
        "count",
        "sum",
        missed_in,
        good="down",
        records=_missed_records,
    )
)
register(
    Metric(
        "callback_pct",
        "telephony",
        _("Missed calls returned within SLA"),
        "pct",
        "ratio",
        callback_pct,
        records=_missed_records,
    )
)
register(
    Metric(
        "callback_minutes",
        "telephony",
        _("Minutes to call back (median)"),
        "minutes",
        "median",
        callback_minutes,
        good="down",
        records=_missed_records,
    )
)
register(
    Metric(
        "speed_to_first_call",
        "intake",
        _("Speed to first call, minutes (median)"),
        "minutes",
        "median",
        speed_to_first_call,
        good="down",
        records=_lead_records,
    )
)
register(
    Metric(
        "leads_called_pct",
        "intake",
        _("New leads called"),
        "pct",
        "ratio",
        leads_called_pct,
        records=_lead_records,
    )
)
register(
    Metric(
        "leads_called_sla_pct",
        "intake",
        _("New leads called within SLA"),
        "pct",
        "ratio",
        leads_called_sla_pct,
        records=_lead_records,
    )
)


def _call_label(call: Call) -> str:
    raw = call.from_raw if call.direction == Direction.IN else call.to_raw
    number = call.client_number or raw
    return f"{call.get_direction_display()} {number}".strip()


def _call_detail(call: Call) -> str:
    from funnelwatch.telephony.templatetags.telephony_tags import minsec

    talk = f" · {minsec(call.talk_seconds)}" if call.talk_seconds else ""
    return f"{call.get_outcome_display()}{talk}"


record_shape(
    Call,
    RecordShape(
        when=("started_at",),
        # A missed call nobody took counts for the client's owner.
        who=("manager", "contact.owner"),
        deal="deal",
        contact="contact",
        link=link_to("telephony:call"),
        label=_call_label,
        detail=_call_detail,
        related=("manager", "contact__owner", "deal"),
    ),
)
