"""Reading the period a page asks for: a day, a week, a month or a custom range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import today

KINDS = ("day", "week", "month", "custom")


@dataclass(frozen=True)
class Choice:
    kind: str
    period: Period

    @property
    def last_day(self) -> dt.date:
        return self.period.end - dt.timedelta(days=1)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def period_of(kind: str, anchor: dt.date) -> Period:
    if kind == "day":
        return Period(anchor, anchor + dt.timedelta(days=1))
    if kind == "month":
        start = anchor.replace(day=1)
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
        return Period(start, nxt)
    start = anchor - dt.timedelta(days=anchor.weekday())
    return Period(start, start + dt.timedelta(days=7))


def from_query(params: dict, default: str = "week") -> Choice:
    """?period=day|week|month&date=YYYY-MM-DD, or ?period=custom&from=..&to=.. (inclusive to)."""
    kind = params.get("period") or default
    if kind not in KINDS:
        kind = default
    if kind == "custom":
        start, last = _date(params.get("from")), _date(params.get("to"))
        if start and last and last >= start and (last - start).days <= 731:
            return Choice(kind, Period(start, last + dt.timedelta(days=1)))
        kind = default
    anchor = _date(params.get("date")) or today()
    return Choice(kind, period_of(kind, anchor))
