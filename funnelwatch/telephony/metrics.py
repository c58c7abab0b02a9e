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

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Case, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm.metrics import add_objection_attempt_source, creation_owner
from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.crm.rollups import owner_at
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


def _by_number() -> QuerySet[Call]:
    numbers = ContactPhone.objects.filter(contact_id=OuterRef(OuterRef("contact_id")))
    return _outbound_after_creation(client_number__in=numbers.values("number"))


def _first(calls: QuerySet[Call]) -> Subquery:
    return Subquery(
        calls.order_by().values("direction").annotate(first=Min("started_at")).values("first")
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
            first_by_number=_first(_by_number()),
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
    called = Case(When(Exists(_by_deal()) | Exists(_by_number()), then=1), default=0)
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


def touched_by_calls(call_ids: list[int]) -> list[tuple[int, dt.datetime]]:
    """(manager, moment) of the numbers stored calls change besides their own manager's
    day (see ``ingest._notify``): the deal's owner at the call (objection attempts), and
    the new leads whose first outbound call may now be one of them: their owner at
    creation, on the day of creation (speed to first call, leads called)."""
    out: list[tuple[int, dt.datetime]] = []
    for start in range(0, len(call_ids), 500):
        calls = Call.objects.active().filter(pk__in=call_ids[start : start + 500])
        out += [
            (owner, at)
            for owner, at in calls.filter(deal__isnull=False)
            .annotate(owner=owner_at("deal", "started_at"))
            .values_list("owner", "started_at")
            if owner
        ]
        outbound = list(
            calls.filter(direction=Direction.OUT).values_list(
                "deal_id", "client_number", "started_at"
            )
        )
        if not outbound:
            continue
        deals = {d for d, _n, _t in outbound if d}
        numbers = {n for _d, n, _t in outbound if n}
        earliest = min(t for _d, _n, t in outbound)
        latest = max(t for _d, _n, t in outbound)
        # The contacts of the numbers first, by the number's index: joined in one query,
        # SQLite walks every deal created before ``latest`` instead.
        contacts = set(
            ContactPhone.objects.filter(number__in=numbers).values_list("contact_id", flat=True)
        )
        # A lead whose first call is earlier than every one of these is not changed by them.
        leads = (
            Deal.objects.filter(
                Q(pk__in=deals) | Q(contact_id__in=contacts), created_at__lte=latest
            )
            .annotate(
                first_owner=creation_owner(),
                first_by_deal=_first(_by_deal()),
                first_by_number=_first(_by_number()),
            )
            .values_list("first_owner", "created_at", "first_by_deal", "first_by_number")
            .distinct()
        )
        for owner, created, by_deal, by_number in leads:
            first = min((t for t in (by_deal, by_number) if t is not None), default=None)
            if owner and (first is None or first >= earliest):
                out.append((owner, created))
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
