"""The morning planning meeting: one printable screen."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_user_ids, visible_users
from funnelwatch.alerts import digests, engine, queries, rules
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.models import Alert, Kind, Status
from funnelwatch.crm.queries import upcoming_meetings
from funnelwatch.lib.dates import Period, day_start, local_date


@dataclass
class MorningPage:
    today: dt.date
    yesterday: dt.date
    rows: list[dict]
    columns: list[dict]
    open_alerts: list  # open alerts but missed calls
    missed_calls: list  # missed calls as they stand now (see ``missed_calls``)
    lost: list
    meetings: list

    @property
    def attention(self) -> list:
        """Everything the meeting goes through, to be ranked (``attention.rank``)."""
        return [*self.open_alerts, *self.missed_calls]


def previous_workday(today: dt.date) -> dt.date:
    cal = WorkCalendar(today - dt.timedelta(days=14), today)
    day = today - dt.timedelta(days=1)
    while not cal.is_company_workday(day) and day > today - dt.timedelta(days=14):
        day -= dt.timedelta(days=1)
    return day


def missed_calls(viewer: User, now: dt.datetime, limit: int = 100) -> list[Alert]:
    """Missed calls over their SLA at ``now``, one row per client number as the alerts
    name them, the ``limit`` whose wait began last: the same rule, evaluated now rather
    than read from the last evaluation, so the meeting sees calls missed at night or over
    the weekend as soon as they fall due at the opening, as the missed-calls page does.
    A number with an open alert shows that alert (with its current numbers); one that fell
    due since the last evaluation shows the alert it is about to get, dated when it fell
    due. Only the numbers shown are read in full (``missed.overdue_newest_first``): a
    department with thousands of calls never returned opens the page as fast as one
    without."""
    from funnelwatch.telephony import missed

    if rules.call_model() is None:
        return []
    ids = visible_user_ids(viewer)
    findings: list[rules.Finding] = []
    for overdue in missed.overdue_newest_first(now, chunk=limit):
        for finding in rules.missed_call_findings(overdue, now):
            if ids is None or finding.manager_id in ids:
                findings.append(finding)
        if len(findings) >= limit:
            break
    if not findings:
        return []
    findings = findings[:limit]
    kind = Kind.MISSED_CALL_NOT_RETURNED
    current = {
        a.cause_key: a
        for a in Alert.objects.filter(
            kind=kind,
            resolved_at__isnull=True,
            cause_key__in=[f.cause_key for f in findings],
        )
    }
    people = User.objects.in_bulk({f.manager_id for f in findings if f.manager_id})
    rows = []
    for finding in findings:
        alert = current.get(finding.cause_key)
        if alert is None:
            alert = engine.new_alert(kind, finding, now)
            alert.opened_at = dt.datetime.fromisoformat(finding.numbers["due_at"])
        alert.numbers, alert.manager_id = finding.numbers, finding.manager_id
        alert.manager = people.get(finding.manager_id)
        rows.append(alert)
    return sorted(rows, key=lambda a: a.opened_at, reverse=True)


def build(viewer: User, now: dt.datetime) -> MorningPage:
    tz = timezone.get_current_timezone()
    today = local_date(now, tz)
    yesterday = previous_workday(today)
    people = list(visible_users(viewer).filter(role=Role.MANAGER))
    rows = digests.build_rows(digests.DAILY, yesterday, people)
    open_alerts = queries.alerts_for(viewer, status=Status.OPEN)
    return MorningPage(
        today=today,
        yesterday=yesterday,
        rows=rows,
        columns=rows[0]["cells"] if rows else [],
        open_alerts=list(open_alerts.exclude(kind=Kind.MISSED_CALL_NOT_RETURNED)[:500]),
        missed_calls=missed_calls(viewer, now),
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
