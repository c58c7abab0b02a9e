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
    """Minutes of working time between two moments (for SLAs counted in working hours)."""
    if end <= start:
        return 0.0
    total = 0.0
    cur = start.astimezone(tz)
    end_local = end.astimezone(tz)
    day = cur.date()
    while day <= end_local.date():
        if day.weekday() in workdays:
            open_at = datetime.combine(day, time(day_start_hour), tzinfo=tz)
            close_at = datetime.combine(day, time(day_end_hour), tzinfo=tz)
            lo, hi = max(open_at, cur), min(close_at, end_local)
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total
