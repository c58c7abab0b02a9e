"""What several management commands share: ``--from D --to D`` as local days, both
inclusive."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from funnelwatch.lib import dates


def add_day_range(parser: CommandParser) -> None:
    parser.add_argument("--from", dest="date_from", required=True)
    parser.add_argument("--to", dest="date_to", required=True)


def day_range_bounds(opts: dict) -> tuple[dt.datetime, dt.datetime]:
    """The moments [start of --from, end of --to) in the installation's time zone."""
    try:
        start = dt.date.fromisoformat(opts["date_from"])
        end = dt.date.fromisoformat(opts["date_to"])
        period = dates.Period(start, end + dt.timedelta(days=1))
    except ValueError as exc:
        raise CommandError(f"--from/--to: {exc}") from None
    return dates.period_bounds(period, timezone.get_current_timezone())
