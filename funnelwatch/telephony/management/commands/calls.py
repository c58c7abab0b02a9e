"""``funnelwatch calls --from YYYY-MM-DD --to YYYY-MM-DD --format json``."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from funnelwatch.lib import dates
from funnelwatch.telephony import queries


class Command(BaseCommand):
    help = "List calls of a period (local dates, both inclusive)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="date_from", required=True)
        parser.add_argument("--to", dest="date_to", required=True)
        parser.add_argument("--format", dest="fmt", choices=["json"], default="json")

    def handle(self, *args, **opts) -> None:
        try:
            start = dt.date.fromisoformat(opts["date_from"])
            end = dt.date.fromisoformat(opts["date_to"])
            period = dates.Period(start, end + dt.timedelta(days=1))
        except ValueError as exc:
            raise CommandError(f"--from/--to: {exc}") from None
        since, until = dates.period_bounds(period, timezone.get_current_timezone())
        calls = queries.calls_between(since, until)
        self.stdout.write(json.dumps(queries.calls_as_json(calls), ensure_ascii=False, indent=1))
