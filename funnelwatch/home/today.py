"""What the home page shows, gathered for one viewer (always narrowed by visibility)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import limit_to_owner, visible_user_ids
from funnelwatch.alerts import attention, queries
from funnelwatch.alerts.models import Status
from funnelwatch.alerts.morning import previous_workday
from funnelwatch.crm.models import Deal, Outcome, Task
from funnelwatch.crm.queries import tasks_for, upcoming_meetings
from funnelwatch.lib.dates import Period, day_start, local_date
from funnelwatch.metrics import engine
from funnelwatch.metrics.registry import Metric
from funnelwatch.reports import trends
from funnelwatch.reports.queries import sellers

# What a manager's card may show: the changes that are large for them among these, and
# the first two as the card's usual numbers.
CARD_KEYS = (
    "calls_out",
    "won_amount",
    "crm_actions",
    "leads_received",
    "proposals_sent",
    "meetings_held",
    "won_count",
    "lost_count",
    "talk_minutes",
    "tasks_done",
    "speed_to_first_call",
)
CARD_CHANGES = 3
# Yesterday in numbers (the viewer's department, team or self).
YESTERDAY_KEYS = (
    "leads_received",
    "calls_out",
    "proposals_sent",
    "meetings_held",
    "won_count",
    "won_amount",
    "lost_count",
)
SHOWN = 8  # rows of each list of today's things


@dataclass
class Card:
    person: User
    query: str  # the drill-down's period and manager
    changes: list[trends.Change] = field(default_factory=list)
    usual: list[tuple[Metric, object]] = field(default_factory=list)
    alerts: int = 0


@dataclass
class Today:
    today: dt.date
    yesterday: dt.date
    week: Period  # the cards' last seven complete days
    groups: list[attention.Group]
    cards: list[Card]
    yesterday_numbers: list[tuple[Metric, object]]
    yesterday_query: str
    won_yesterday: list[Deal]
    meetings: list
    tasks: list[Task]
    tasks_total: int
    callbacks: list
    callbacks_total: int
    to_review: list = field(default_factory=list)
    to_review_total: int = 0


def _drill_query(period: Period, manager_id: int | None = None) -> str:
    query = {
        "period": "custom",
        "from": period.start.isoformat(),
        "to": (period.end - dt.timedelta(days=1)).isoformat(),
    }
    if manager_id:
        query["manager"] = str(manager_id)
    return urlencode(query)


def cards(people: list[User], week: Period, order: list[int | None]) -> list[Card]:
    """One card per manager: their large changes over ``week`` against their own last
    eight weeks (``reports.trends``), and their usual numbers."""
    metrics = trends.rolled(list(CARD_KEYS))
    if not people or not metrics:
        return []
    groups = {u.pk: {u.pk} for u in people}
    keys = [m.key for m in metrics]
    with engine.memoized():
        now = engine.group_values(keys, week, groups)
        past = trends.history(metrics, week, groups)
    rank = {pk: i for i, pk in enumerate(order)}
    out = []
    for person in people:
        card = Card(person, _drill_query(week, person.pk))
        found = [
            c
            for m in metrics
            if (c := trends.large_change(m, now[person.pk][m.key], past[person.pk][m.key]))
        ]
        card.changes = sorted(found, key=lambda c: -abs(c.z))[:CARD_CHANGES]
        changed = {c.metric.key for c in card.changes}
        card.usual = [(m, now[person.pk][m.key]) for m in metrics[:2] if m.key not in changed]
        out.append(card)
    out.sort(key=lambda c: (rank.get(c.person.pk, len(rank)), not c.changes, str(c.person)))
    return out


def _callbacks(viewer: User, now: dt.datetime) -> list:
    if not apps.is_installed("funnelwatch.telephony"):
        return []
    from funnelwatch.telephony import missed

    return missed.unreturned(viewer, now, limit=200)


def _to_review(viewer: User) -> tuple[list, int]:
    """The quality review queue's calls nobody has reviewed yet (for those who review)."""
    if not apps.is_installed("funnelwatch.quality"):
        return [], 0
    from funnelwatch.quality import queries as quality

    if not quality.can_review(viewer):
        return [], 0
    waiting = quality.queue(viewer).filter(reviewed=False)
    return list(waiting[:SHOWN]), waiting.count()


def build(viewer: User, now: dt.datetime | None = None) -> Today:
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = local_date(now, tz)
    yesterday = previous_workday(today)
    week = Period(today - dt.timedelta(days=7), today)
    reads_sales = viewer.role != Role.REVIEWER
    groups = (
        attention.rank(queries.alerts_for(viewer, status=Status.OPEN)[:500]) if reads_sales else []
    )
    if viewer.role == Role.MANAGER:
        people = [viewer]
    elif reads_sales:
        people = [u for u in sellers(viewer) if u.role == Role.MANAGER]
    else:
        people = []
    card_list = cards(people, week, [g.manager.pk for g in groups if g.manager])
    counts = {g.manager.pk: len(g.alerts) for g in groups if g.manager}
    for card in card_list:
        card.alerts = counts.get(card.person.pk, 0)
    day = Period(yesterday, yesterday + dt.timedelta(days=1))
    keys = [m.key for m in trends.rolled(list(YESTERDAY_KEYS))]
    scope = visible_user_ids(viewer)
    values = engine.group_values(keys, day, {"all": scope})["all"] if keys else {}
    start, end = day_start(yesterday, tz), day_start(yesterday + dt.timedelta(days=1), tz)
    won = list(
        limit_to_owner(viewer, Deal.objects.filter(status=Outcome.WON))
        .filter(closed_at__gte=start, closed_at__lt=end)
        .select_related("owner")
        .order_by("-amount")[:SHOWN]
    )
    tomorrow = day_start(today + dt.timedelta(days=1), tz)
    due = tasks_for(viewer).filter(done_at__isnull=True, due_at__lt=tomorrow)
    if viewer.role != Role.MANAGER:
        due = due.filter(kind=Task.Kind.CALL)  # a leader's morning: the callbacks due
    else:
        due = due.filter(assignee=viewer)
    callbacks = _callbacks(viewer, now) if reads_sales else []
    if viewer.role == Role.MANAGER:
        callbacks = [row for row in callbacks if row.who is None or row.who.pk == viewer.pk]
    to_review, to_review_total = _to_review(viewer) if viewer.role == Role.REVIEWER else ([], 0)
    return Today(
        to_review=to_review,
        to_review_total=to_review_total,
        today=today,
        yesterday=yesterday,
        week=week,
        groups=groups,
        cards=card_list,
        yesterday_numbers=[(m, values.get(m.key)) for m in trends.rolled(keys)],
        yesterday_query=_drill_query(day),
        won_yesterday=won,
        meetings=list(upcoming_meetings(viewer, day_start(today, tz), tomorrow)[:SHOWN])
        if reads_sales
        else [],
        tasks=list(due.order_by("due_at")[:SHOWN]) if reads_sales else [],
        tasks_total=due.count() if reads_sales else 0,
        callbacks=[row for row in callbacks if row.overdue][:SHOWN],
        callbacks_total=sum(1 for row in callbacks if row.overdue),
    )


def records_url(key: str) -> str:
    return reverse("metrics:records", args=[key])
