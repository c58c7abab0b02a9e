"""``funnelwatch rollups rebuild [--from D --to D]`` and ``funnelwatch rollups verify``."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, refresh, registry
from funnelwatch.metrics.common import local_day, today


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


def data_period() -> Period:
    """From the first recorded event to the last one or tomorrow (local days), as the
    domains name their records' span (``registry.history_span``)."""
    firsts: list[dt.datetime | None] = []
    lasts: list[dt.datetime | None] = []
    for span in registry.history_spans():
        first, last = span()
        firsts.append(first)
        lasts.append(last)
    start = min((local_day(x) for x in firsts if x), default=today())
    end = max([today(), *(local_day(x) for x in lasts if x)]) + dt.timedelta(days=1)
    return Period(min(start, end), end)


class Command(BaseCommand):
    help = "Rebuild the metrics' daily rollups from raw records, or verify them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("rebuild", "verify"):
            p = sub.add_parser(name)
            p.add_argument("--from", dest="start", type=_day, help="first day (YYYY-MM-DD)")
            p.add_argument("--to", dest="end", type=_day, help="day after the last (exclusive)")

    def handle(
        self,
        *args: object,
        action: str,
        start: dt.date | None,
        end: dt.date | None,
        **options: object,
    ) -> None:
        whole = data_period()
        period = Period(start or whole.start, end or whole.end)
        if action == "rebuild":
            rows = 0
            # A month at a time keeps memory flat on a big history.
            day = period.start
            while day < period.end:
                chunk = Period(day, min(period.end, day + dt.timedelta(days=31)))
                rows += engine.rebuild(chunk)
                day = chunk.end
            engine.refresh_statistics()
            self.stdout.write(f"rebuilt {period.start}..{period.end}: {rows} rows")
            return
        # Changes waiting for the worker are known to be stale: apply them first.
        refresh.flush_dirty()
        diffs = engine.verify(period)
        for diff in diffs[:200]:
            self.stdout.write(str(diff))
        if diffs:
            raise CommandError(
                f"{len(diffs)} rollup rows differ from raw records "
                "(run: funnelwatch rollups rebuild)"
            )
        self.stdout.write(f"rollups match raw records for {period.start}..{period.end}")
