"""The weekly planning meeting: one printable page, like the morning meeting's.

The meeting's week starts on a Monday (``week``). It shows:
- last week (the 7 days before ``week``) against plan: each plan that ran during it, the
  fact at its end, and where a steady pace would have been;
- each manager's numbers of last week, with the usual of the four weeks before, and
  the alerts opened since last week began;
- the meeting's week: planned meetings, and deals with tasks due;
- hand-off requests past due;
- the actions agreed at the meeting (each a task for someone, with a due time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.apps import apps
from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import limit_to_owner, visible_users
from funnelwatch.alerts import digests
from funnelwatch.alerts.models import Alert
from funnelwatch.crm.models import Task
from funnelwatch.crm.queries import upcoming_meetings
from funnelwatch.handoffs.alerts import overdue
from funnelwatch.handoffs.models import AgreedAction
from funnelwatch.handoffs.queries import requests_for
from funnelwatch.lib.dates import day_start, local_date


@dataclass
class WeekPage:
    week: dt.date  # Monday of the meeting's week
    last_week: dt.date
    last_sunday: dt.date
    plans: list
    rows: list[dict]
    columns: list[dict]
    alerts: list
    meetings: list
    tasks_due: list
    handoffs_late: list
    actions: list


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def this_week() -> dt.date:
    return monday_of(local_date(timezone.now(), timezone.get_current_timezone()))


def _plans(viewer: User, last_week: dt.date, week: dt.date) -> list:
    try:
        apps.get_model("plans", "Plan")
        from funnelwatch.plans.progress import plans_for, progress
    except (LookupError, ImportError):
        return []
    out = []
    for plan in plans_for(viewer, last_week).filter(first_day__lt=week, last_day__gte=last_week):
        out.append(progress(plan, min(week, plan.end)))
    return out


def build(viewer: User, week: dt.date) -> WeekPage:
    tz = timezone.get_current_timezone()
    last_week = week - dt.timedelta(days=7)
    last_sunday = week - dt.timedelta(days=1)
    next_end = week + dt.timedelta(days=7)
    people = list(visible_users(viewer).filter(role=Role.MANAGER))
    rows = digests.build_rows(digests.WEEKLY, last_sunday, people)
    alerts = list(
        limit_to_owner(viewer, Alert.objects.all(), "manager")
        .filter(opened_at__gte=day_start(last_week, tz), opened_at__lt=day_start(next_end, tz))
        .select_related("manager")[:200]
    )
    tasks_due = list(
        limit_to_owner(viewer, Task.objects.active(), "assignee")
        .filter(
            done_at__isnull=True,
            deal__isnull=False,
            due_at__gte=day_start(week, tz),
            due_at__lt=day_start(next_end, tz),
        )
        .select_related("deal", "assignee")
        .order_by("due_at")[:200]
    )
    late_ids = set(overdue(timezone.now()).values_list("pk", flat=True))
    return WeekPage(
        week=week,
        last_week=last_week,
        last_sunday=last_sunday,
        plans=_plans(viewer, last_week, week),
        rows=rows,
        columns=rows[0]["cells"] if rows else [],
        alerts=alerts,
        meetings=list(
            upcoming_meetings(viewer, day_start(week, tz), day_start(next_end, tz)).order_by(
                "scheduled_at"
            )[:200]
        ),
        tasks_due=tasks_due,
        handoffs_late=list(requests_for(viewer).filter(pk__in=late_ids).order_by("due_at")[:100]),
        actions=list(
            AgreedAction.objects.filter(week=week)
            .filter(task__in=limit_to_owner(viewer, Task.objects.all(), "assignee"))
            .select_related("task", "task__assignee", "author")
        ),
    )
