"""Telephony metrics (KPIS.md, Telephony; and the intake metrics that need real calls).

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
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.lib import dates
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.registry import Metric, Point, register
from funnelwatch.telephony.models import Call, CallOutcome, Direction


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    return dates.period_bounds(period, timezone.get_current_timezone())


def _calls(period: Period, manager_ids: set[int] | None, **filters) -> QuerySet[Call]:  # noqa: ANN003
    since, until = _bounds(period)
    qs = Call.objects.active().filter(started_at__gte=since, started_at__lt=until, **filters)
    qs = qs.annotate(credit=Coalesce("manager_id", "contact__owner_id"))
    qs = qs.filter(credit__isnull=False)
    if manager_ids is not None:
        qs = qs.filter(credit__in=manager_ids)
    return qs


def _day(moment: dt.datetime) -> dt.date:
    return dates.local_date(moment, timezone.get_current_timezone())


def working_minutes(start: dt.datetime, end: dt.datetime) -> float:
    return dates.working_minutes_between(
        start,
        end,
        timezone.get_current_timezone(),
        settings.FUNNELWATCH_WORKDAYS,
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def _count(qs: QuerySet[Call]) -> Iterator[Point]:
    for credit, started in qs.values_list("credit", "started_at").iterator(chunk_size=5000):
        yield Point(credit, _day(started), 1)


def calls_out(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    return _count(_calls(period, manager_ids, direction=Direction.OUT))


def calls_in(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    return _count(_calls(period, manager_ids, direction=Direction.IN))


def calls_connected(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    return _count(
        _calls(period, manager_ids, outcome=CallOutcome.ANSWERED).exclude(
            direction=Direction.INTERNAL
        )
    )


def talk_minutes(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    qs = _calls(period, manager_ids, outcome=CallOutcome.ANSWERED).exclude(
        direction=Direction.INTERNAL
    )
    for credit, started, talk in qs.values_list("credit", "started_at", "talk_seconds"):
        yield Point(credit, _day(started), round(talk / 60, 2))


def _missed(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
    return _calls(period, manager_ids, direction=Direction.IN).exclude(outcome=CallOutcome.ANSWERED)


def missed_in(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    return _count(_missed(period, manager_ids))


def callback_pct(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    for credit, started, back in _missed(period, manager_ids).values_list(
        "credit", "started_at", "callback_at"
    ):
        ok = back is not None and working_minutes(started, back) <= sla
        yield Point(credit, _day(started), 1 if ok else 0, 1)


def callback_minutes(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    for credit, started, back in (
        _missed(period, manager_ids)
        .filter(callback_at__isnull=False)
        .values_list("credit", "started_at", "callback_at")
    ):
        yield Point(credit, _day(started), round(working_minutes(started, back), 1))


def _missed_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Call]:
    return _missed(period, manager_ids).select_related("manager", "contact")


def _call_records(direction: str | None = None, answered: bool = False):  # noqa: ANN202
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
    since, until = _bounds(period)
    qs = Deal.objects.filter(created_at__gte=since, created_at__lt=until)
    if manager_ids is not None:
        qs = qs.filter(owner_id__in=manager_ids)
    return qs


def first_calls(deals: list[tuple[int, int | None, dt.datetime]]) -> dict[int, dt.datetime]:
    """deal id → the first outbound call attempt to any of its contact's numbers after
    the deal was created (or an outbound call filed on the deal itself)."""
    contact_ids = {c for _d, c, _t in deals if c}
    numbers: dict[int, set[str]] = {}
    for i in range(0, len(contact_ids), 900):
        part = list(contact_ids)[i : i + 900]
        for cid, number in ContactPhone.objects.filter(contact_id__in=part).values_list(
            "contact_id", "number"
        ):
            numbers.setdefault(cid, set()).add(number)
    all_numbers = sorted({n for ns in numbers.values() for n in ns})
    earliest = min((t for _d, _c, t in deals), default=None)
    if earliest is None:
        return {}
    by_number: dict[str, list[dt.datetime]] = {}
    by_deal: dict[int, list[dt.datetime]] = {}
    deal_ids = [d for d, _c, _t in deals]
    for i in range(0, max(len(all_numbers), len(deal_ids)), 900):
        cond = Q(client_number__in=all_numbers[i : i + 900]) | Q(deal_id__in=deal_ids[i : i + 900])
        for number, deal_id, started in (
            Call.objects.active()
            .filter(cond, direction=Direction.OUT, started_at__gte=earliest)
            .values_list("client_number", "deal_id", "started_at")
        ):
            by_number.setdefault(number, []).append(started)
            if deal_id:
                by_deal.setdefault(deal_id, []).append(started)
    out = {}
    for deal_id, contact_id, created in deals:
        times = list(by_deal.get(deal_id, []))
        for number in numbers.get(contact_id, ()):
            times += by_number.get(number, [])
        after = [t for t in times if t >= created]
        if after:
            out[deal_id] = min(after)
    return out


def _leads_with_first_call(period: Period, manager_ids: set[int] | None):  # noqa: ANN202
    deals = list(
        _new_leads(period, manager_ids).values_list("pk", "contact_id", "created_at", "owner_id")
    )
    firsts = first_calls([(d, c, t) for d, c, t, _o in deals])
    return deals, firsts


def speed_to_first_call(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    deals, firsts = _leads_with_first_call(period, manager_ids)
    for deal_id, _contact, created, owner in deals:
        if deal_id in firsts:
            minutes = (firsts[deal_id] - created).total_seconds() / 60
            yield Point(owner, _day(created), round(minutes, 1))


def leads_called_pct(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    deals, firsts = _leads_with_first_call(period, manager_ids)
    for deal_id, _contact, created, owner in deals:
        yield Point(owner, _day(created), 1 if deal_id in firsts else 0, 1)


def leads_called_sla_pct(period: Period, manager_ids: set[int] | None) -> Iterator[Point]:
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    deals, firsts = _leads_with_first_call(period, manager_ids)
    for deal_id, _contact, created, owner in deals:
        ok = deal_id in firsts and working_minutes(created, firsts[deal_id]) <= sla
        yield Point(owner, _day(created), 1 if ok else 0, 1)


def _lead_records(period: Period, manager_ids: set[int] | None) -> QuerySet[Deal]:
    return (
        _new_leads(period, manager_ids)
        .select_related("owner", "contact")
        .annotate(owner_name=F("owner__username"))
    )


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
