"""Reaction-time KPIs of the departments that receive hand-off requests.

In the key numbers a request counts for the manager who made it (how fast the company
answers each manager); the hand-off KPIs page reads the same definitions crediting the
person who took the request, and the department (``points(..., credit=...)``).

- ``handoff_requests``: requests made, on the day they were made;
- ``handoff_take_minutes``: working minutes from request to taken, on the day taken;
- ``handoff_done_minutes``: working minutes from request to done, on the day done;
- ``handoff_within_sla``: share of requests done by their due time, of those done;
- ``handoff_returns``: requests returned with a reason, on the day returned.
"""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from funnelwatch.handoffs.models import Handoff, State
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import bounds, day_points
from funnelwatch.metrics.registry import Metric, Point, RecordShape, link_to, record_shape, register

CREDIT = {"requester": "requester_id", "taker": "assignee_id", "department": "department_id"}


def _rows(
    when: str, period: Period, ids: set[int] | None, credit: str, **filters: object
) -> QuerySet[Handoff]:
    since, until = bounds(period)
    qs = Handoff.objects.filter(**{f"{when}__gte": since, f"{when}__lt": until}, **filters)
    field = CREDIT[credit]
    qs = qs.filter(**{f"{field}__isnull": False})
    if ids is not None:
        qs = qs.filter(**{f"{field}__in": ids})
    return qs


def requests_made(period: Period, ids: set[int] | None, credit: str = "requester") -> list[Point]:
    qs = _rows("created_at", period, ids, credit)
    return day_points(qs, CREDIT[credit], "created_at", period)


def take_minutes(period: Period, ids: set[int] | None, credit: str = "requester") -> list[Point]:
    qs = _rows("taken_at", period, ids, credit, take_minutes__isnull=False)
    return day_points(qs, CREDIT[credit], "taken_at", period, value=F("take_minutes"))


def done_minutes(period: Period, ids: set[int] | None, credit: str = "requester") -> list[Point]:
    qs = _rows("finished_at", period, ids, credit, state=State.DONE)
    return day_points(qs, CREDIT[credit], "finished_at", period, value=F("done_minutes"))


def within_sla(period: Period, ids: set[int] | None, credit: str = "requester") -> list[Point]:
    qs = _rows("finished_at", period, ids, credit, state=State.DONE)
    hit = Case(When(within_sla=True, then=Value(1)), default=Value(0), output_field=IntegerField())
    return day_points(qs, CREDIT[credit], "finished_at", period, value=hit)


def returns(period: Period, ids: set[int] | None, credit: str = "requester") -> list[Point]:
    qs = _rows("finished_at", period, ids, credit, state=State.RETURNED)
    return day_points(qs, CREDIT[credit], "finished_at", period)


def _records(when: str, **filters: object):
    def records(period: Period, ids: set[int] | None) -> QuerySet[Handoff]:
        return _rows(when, period, ids, "requester", **filters).select_related(
            "deal", "department", "requester", "assignee"
        )

    return records


DEFINITIONS = [
    ("handoff_requests", _("Hand-off requests made"), "count", "sum", requests_made, "none",
     _records("created_at")),
    ("handoff_take_minutes", _("Hand-offs: working minutes to take"), "minutes", "mean",
     take_minutes, "down", _records("taken_at", take_minutes__isnull=False)),
    ("handoff_done_minutes", _("Hand-offs: working minutes to done"), "minutes", "mean",
     done_minutes, "down", _records("finished_at", state=State.DONE)),
    ("handoff_within_sla", _("Hand-offs done within SLA"), "pct", "ratio", within_sla, "up",
     _records("finished_at", state=State.DONE)),
    ("handoff_returns", _("Hand-offs returned"), "count", "sum", returns, "down",
     _records("finished_at", state=State.RETURNED)),
]  # fmt: skip

for key, label, unit, kind, compute, good, records in DEFINITIONS:
    register(
        Metric(
            key,
            "handoffs",
            label,
            unit,
            kind,
            compute,
            good=good,
            records=records,
            refresh_on=(),  # hand-offs mark their own days (services._refresh)
        )
    )

record_shape(
    Handoff,
    RecordShape(
        when=("finished_at", "taken_at", "created_at"),
        who=("requester",),
        deal="deal",
        link=link_to("handoffs:detail"),
        label=lambda h: f"{h.department} · {h.get_kind_display()}",
        detail=lambda h: h.get_state_display(),
        related=("deal", "department", "requester", "assignee"),
    ),
)
