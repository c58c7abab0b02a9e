"""The morning planning meeting: one printable screen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_users
from funnelwatch.alerts import digests, queries
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.models import Kind, Status
from funnelwatch.crm.queries import upcoming_meetings
from funnelwatch.lib.dates import Period, day_start, local_date


@dataclass
class MorningPage:
    today: dt.date
    yesterday: dt.date
    rows: list[dict]
    columns: list[dict]
    new_alerts: list
    stalled: list
    missed_calls: list
    lost: list
    meetings: list


def previous_workday(today: dt.date) -> dt.date:
    cal = WorkCalendar(today - dt.timedelta(days=14), today)
    day = today - dt.timedelta(days=1)
    while not cal.is_company_workday(day) and day > today - dt.timedelta(days=14):
        day -= dt.timedelta(days=1)
    return day


def build(viewer: User, now: dt.datetime) -> MorningPage:
    tz = timezone.get_current_timezone()
    today = local_date(now, tz)
    yesterday = previous_workday(today)
    people = list(visible_users(viewer).filter(role=Role.MANAGER))
    rows = digests.build_rows(digests.DAILY, yesterday, people)
    since = day_start(yesterday, tz)
    open_alerts = queries.alerts_for(viewer, status=Status.OPEN)
    return MorningPage(
        today=today,
        yesterday=yesterday,
        rows=rows,
        columns=rows[0]["cells"] if rows else [],
        new_alerts=list(
            queries.new_alerts(viewer, since).exclude(
                kind__in=[Kind.STALLED_DEAL, Kind.MISSED_CALL_NOT_RETURNED]
            )[:100]
        ),
        stalled=list(open_alerts.filter(kind=Kind.STALLED_DEAL)[:100]),
        missed_calls=list(open_alerts.filter(kind=Kind.MISSED_CALL_NOT_RETURNED)[:100]),
        lost=list(
            queries.lost_to_review(
                viewer, Period(today - dt.timedelta(days=14), today + dt.timedelta(days=1))
            )[:100]
        ),
        meetings=list(
            upcoming_meetings(
                viewer, day_start(today, tz), day_start(today + dt.timedelta(days=1), tz)
            )
        ),
    )
