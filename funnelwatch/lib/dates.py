"""Local days in the company's time zone, and working time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """A half-open interval of local dates ``[start, end)``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start)

    def __iter__(self) -> Iterator[date]:
        day = self.start
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The aware moment the local day begins."""
    return datetime.combine(day, time.min, tzinfo=tz)


def period_bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return day_start(period.start, tz), day_start(period.end, tz)


def working_minutes_between(
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    workdays: list[int],
    day_start_hour: int,
    day_end_hour: int,
) -> float:
    """Minutes of working time between two moments (for SLAs counted in working hours).

    The first and last days are measured exactly; the whole days between are counted
    by weekday arithmetic, so a span of months costs no more than a span of days.
    """
    if end <= start:
        return 0.0
    cur = start.astimezone(tz)
    end_local = end.astimezone(tz)

    def within(day: date, lo: datetime, hi: datetime) -> float:
        if day.weekday() not in workdays:
            return 0.0
        open_at = datetime.combine(day, time(day_start_hour), tzinfo=tz)
        close_at = datetime.combine(day, time(day_end_hour), tzinfo=tz)
        a, b = max(open_at, lo), min(close_at, hi)
        return max(0.0, (b - a).total_seconds() / 60)

    first, last = cur.date(), end_local.date()
    if first == last:
        return within(first, cur, end_local)
    total = within(first, cur, end_local) + within(last, cur, end_local)
    between = (last - first).days - 1  # whole days strictly inside
    weeks, rest = divmod(between, 7)
    days = weeks * len(set(workdays) & set(range(7)))
    days += sum(1 for i in range(rest) if (first + timedelta(days=1 + i)).weekday() in workdays)
    return total + days * (day_end_hour - day_start_hour) * 60.0


def working_deadline(
    start: datetime,
    minutes: float,
    tz: ZoneInfo,
    workdays: list[int],
    day_start_hour: int,
    day_end_hour: int,
) -> datetime:
    """The moment ``minutes`` of working time have passed since ``start``: the inverse of
    :func:`working_minutes_between`. Something that came in at night or on a day off
    starts its clock at the next opening (a call missed on Saturday night with a 15-minute
    SLA is due on Monday at opening + 15 minutes)."""
    left = timedelta(minutes=minutes)
    moment = start.astimezone(tz)
    # Within a year there is always working time, unless no day is a working day.
    for _ in range(366):
        day = moment.date()
        open_at = datetime.combine(day, time(day_start_hour), tzinfo=tz)
        close_at = datetime.combine(day, time(day_end_hour), tzinfo=tz)
        if day.weekday() in workdays and moment < close_at:
            moment = max(moment, open_at)
            if moment + left <= close_at:
                return moment + left
            left -= close_at - moment
        moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return moment


def shown(moment: datetime | None) -> str:
    """A moment as people read it: in the current (the company's) time zone, to the
    minute. Records' names use it, so a call named in a list reads as the calls page
    shows it, not in UTC as it is stored."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        from django.utils import timezone

        moment = timezone.localtime(moment)
    return f"{moment:%Y-%m-%d %H:%M}"
