"""Reading the period a page asks for: a day, a week, a month or a custom range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from funnelwatch.core.params import BadParameter, day
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import today

KINDS = ("day", "week", "wtd", "month", "custom")
MAX_CUSTOM_DAYS = 731


@dataclass(frozen=True)
class Choice:
    kind: str
    period: Period

    @property
    def last_day(self) -> dt.date:
        return self.period.end - dt.timedelta(days=1)

    @property
    def previous(self) -> Period:
        """What the period is compared with, like for like: a day or days of a week with
        the same weekdays a week before (Monday–Wednesday with last Monday–Wednesday, not
        with last Friday–Sunday), a month with the month before, a range with the range
        of the same length just before it."""
        start, end = self.period.start, self.period.end
        if self.kind in ("day", "week", "wtd"):
            return Period(start - dt.timedelta(days=7), end - dt.timedelta(days=7))
        if self.kind == "month":
            first = (start - dt.timedelta(days=1)).replace(day=1)
            return Period(first, start)
        return self.period.previous()

    @property
    def complete(self) -> bool:
        """Whether every day of the period is over (today is not)."""
        return self.period.end <= today()


def last_complete(kind: str, day: dt.date) -> dt.date:
    """An anchor day in the last period of ``kind`` that ended before ``day``."""
    if kind == "day":
        return day - dt.timedelta(days=1)
    if kind == "month":
        return day.replace(day=1) - dt.timedelta(days=1)
    if kind == "wtd":
        return day - dt.timedelta(days=1)  # Monday up to yesterday
    return day - dt.timedelta(days=7)


def period_of(kind: str, anchor: dt.date) -> Period:
    if kind == "day":
        return Period(anchor, anchor + dt.timedelta(days=1))
    if kind == "wtd":  # the week's Monday up to the anchor day, inclusive
        start = anchor - dt.timedelta(days=anchor.weekday())
        return Period(start, anchor + dt.timedelta(days=1))
    if kind == "month":
        start = anchor.replace(day=1)
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
        return Period(start, nxt)
    start = anchor - dt.timedelta(days=anchor.weekday())
    return Period(start, start + dt.timedelta(days=7))


def from_query(params: dict, default: str = "week") -> Choice:
    """?period=day|week|wtd|month&date=YYYY-MM-DD, or ?period=custom&from=..&to=.. (inclusive
    to). Without a date, the last *complete* period: yesterday, last week, last month, or
    this week up to yesterday ("wtd", compared with the same days of last week) — never
    an unfinished period that a whole one would be compared with.

    A value the chosen period needs but cannot use (a date that does not parse or is out
    of the product's range, a custom range backwards or over two years) raises
    ``BadParameter``: the page answers 400 naming it instead of showing another period.
    A custom range not filled in falls back to the page's usual period."""
    kind = params.get("period") or default
    if kind not in KINDS:
        raise BadParameter("period", _("day, week, wtd, month or custom."))
    if kind == "custom":
        start, last = day(params, "from"), day(params, "to")
        if start and last:
            if last < start:
                raise BadParameter("to", _("the last day comes before the first."))
            if (last - start).days > MAX_CUSTOM_DAYS:
                raise BadParameter("to", _("at most two years at a time."))
            return Choice(kind, Period(start, last + dt.timedelta(days=1)))
        kind = default  # a range not filled in: the page's usual period
    anchor = day(params, "date") or last_complete(kind, today())
    return Choice(kind, period_of(kind, anchor))
