"""Working days: the company's weekdays, minus holidays and each manager's absences."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings

from funnelwatch.accounts.models import Absence, Holiday


class WorkCalendar:
    """Answers "did this manager work that day?" for a window of days, from two queries."""

    def __init__(self, start: dt.date, end: dt.date, user_ids: set[int] | None = None) -> None:
        self.workdays = set(settings.FUNNELWATCH_WORKDAYS)
        self.holidays = set(
            Holiday.objects.filter(day__gte=start, day__lte=end).values_list("day", flat=True)
        )
        absences = Absence.objects.filter(start__lte=end, end__gte=start)
        if user_ids is not None:
            absences = absences.filter(user_id__in=user_ids)
        self.absent: dict[int, set[dt.date]] = defaultdict(set)
        for user_id, a_start, a_end in absences.values_list("user_id", "start", "end"):
            day = max(a_start, start)
            while day <= min(a_end, end):
                self.absent[user_id].add(day)
                day += dt.timedelta(days=1)

    def is_company_workday(self, day: dt.date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def worked(self, user_id: int, day: dt.date) -> bool:
        return self.is_company_workday(day) and day not in self.absent.get(user_id, set())

    def last_workdays(
        self, user_id: int, before: dt.date, count: int, not_before: dt.date
    ) -> list[dt.date]:
        """The ``count`` latest days before ``before`` the manager worked (newest last)."""
        out: list[dt.date] = []
        day = before - dt.timedelta(days=1)
        while len(out) < count and day >= not_before:
            if self.worked(user_id, day):
                out.append(day)
            day -= dt.timedelta(days=1)
        return sorted(out)


def is_workday(day: dt.date) -> bool:
    return WorkCalendar(day, day).is_company_workday(day)
