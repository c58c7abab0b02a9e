from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from funnelwatch.leads.exports import leads_as_json
from funnelwatch.lib import dates


class Command(BaseCommand):
    help = "Leads created between two days (inclusive), with their source and first contact."

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
        # Scripts read the same words whatever language was active: the installation's own.
        with translation.override(settings.LANGUAGE_CODE):
            rows = leads_as_json(since, until)
        self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1))
