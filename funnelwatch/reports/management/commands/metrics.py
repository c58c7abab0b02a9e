"""``funnelwatch metrics --from D --to D [--by manager|team|none] [--metrics a,b]
[--format json|csv|xlsx] [--output PATH]``: the key-numbers table, ``--to`` exclusive."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.lib.dates import Period
from funnelwatch.reports import exports, queries


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Print the key-numbers table (every manager) as JSON, CSV or XLSX."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", type=_day, required=True)
        parser.add_argument(
            "--to",
            dest="end",
            type=_day,
            required=True,
            help="the day after the last one (exclusive)",
        )
        parser.add_argument("--by", choices=["manager", "team", "none"], default="manager")
        parser.add_argument("--metrics", default="", help="comma-separated metric keys")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: object, **o: object) -> None:
        if o["end"] <= o["start"]:
            raise CommandError("--to must be after --from (it is exclusive)")
        keys = [k.strip() for k in str(o["metrics"]).split(",") if k.strip()] or None
        try:
            table = queries.key_numbers(
                None, Period(o["start"], o["end"]), by=o["by"], metrics=keys, compare=False
            )
        except KeyError as exc:
            raise CommandError(str(exc)) from None
        fmt = o["format"]
        if fmt == "json":
            data = (
                json.dumps(queries.as_json(table), ensure_ascii=False, indent=2) + "\n"
            ).encode()
        elif fmt == "csv":
            data = exports.to_csv(table)
        else:
            data = exports.to_xlsx(table)
        if o["output"]:
            with open(o["output"], "wb") as fh:
                fh.write(data)
        elif fmt == "xlsx":
            raise CommandError("--format xlsx needs --output PATH")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
