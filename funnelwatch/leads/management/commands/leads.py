from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

from funnelwatch.core.commands import add_day_range, day_range_bounds
from funnelwatch.leads.exports import leads_as_json


class Command(BaseCommand):
    help = "Leads created between two days (inclusive), with their source and first contact."

    def add_arguments(self, parser) -> None:
        add_day_range(parser)
        parser.add_argument("--format", dest="fmt", choices=["json"], default="json")

    def handle(self, *args, **opts) -> None:
        since, until = day_range_bounds(opts)
        # Scripts read the same words whatever language was active: the installation's own.
        with translation.override(settings.LANGUAGE_CODE):
            rows = leads_as_json(since, until)
        self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1))
