from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from funnelwatch.clients import segments


def _day(value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of: enter a date as YYYY-MM-DD, got {value!r}") from None
    if not dt.date(1900, 1, 1) <= day <= dt.date(2999, 12, 31):
        raise CommandError("--as-of: the date must be between 1900-01-01 and 2999-12-31")
    return day


class Command(BaseCommand):
    help = "List every company's segments (ABC, XYZ, RFM, lifecycle) as of a day."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as-of", help="the day (YYYY-MM-DD); default today")
        parser.add_argument("--format", choices=("json", "table"), default="table")
        parser.add_argument(
            "--save", action="store_true", help="also keep them as that month's snapshot"
        )

    def handle(self, *args, **opts) -> None:
        as_of = _day(opts["as_of"]) if opts["as_of"] else timezone.localdate()
        rows = segments.compute(as_of)
        if opts["save"]:
            segments.store(as_of, segments=rows)
        if opts["format"] == "json":
            self.stdout.write(json.dumps([s.as_json() for s in rows], ensure_ascii=False, indent=1))
            return
        for s in rows:
            self.stdout.write(
                f"{s.company_id}\t{s.company}\t{s.revenue}\t{s.abc or '-'}{s.xyz or '-'}"
                f"\t{s.rfm or '-'}\t{s.lifecycle}"
            )
