"""``funnelwatch payouts --month YYYY-MM [--format json|csv|xlsx] [--output PATH]``: every
manager's payout statement for the month (approved, or as it accrues)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.motivation import exports, payouts


def _month(value: str):
    try:
        return payouts.parse_month(value)
    except ValueError:
        raise CommandError(f"not a month (YYYY-MM): {value!r}") from None


class Command(BaseCommand):
    help = "Print every manager's payout statement for a month."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", type=_month, required=True, help="YYYY-MM")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: object, **o: object) -> None:
        month = o["month"]
        found = [p for p in payouts.payouts(month) if p.scheme_name or p.lines]
        fmt = o["format"]
        if fmt == "json":
            data = (
                json.dumps([p.as_json() for p in found], ensure_ascii=False, indent=2) + "\n"
            ).encode()
        elif fmt == "csv":
            data = exports.to_csv(found)
        else:
            data = exports.to_xlsx(found, month)
        if o["output"]:
            with open(o["output"], "wb") as fh:
                fh.write(data)
        elif fmt == "xlsx":
            raise CommandError("--format xlsx needs --output PATH")
        else:
            self.stdout.write(data.decode("utf-8"), ending="")
