"""``funnelwatch calls --from YYYY-MM-DD --to YYYY-MM-DD --format json``."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from funnelwatch.core.commands import add_day_range, day_range_bounds
from funnelwatch.telephony import queries


class Command(BaseCommand):
    help = "List calls of a period (local dates, both inclusive)."

    def add_arguments(self, parser) -> None:
        add_day_range(parser)
        parser.add_argument("--format", dest="fmt", choices=["json"], default="json")

    def handle(self, *args, **opts) -> None:
        since, until = day_range_bounds(opts)
        calls = queries.calls_between(since, until)
        self.stdout.write(json.dumps(queries.calls_as_json(calls), ensure_ascii=False, indent=1))
