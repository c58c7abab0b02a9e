"""``funnelwatch import-calls PATH --format ...``: CDR files into calls."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from funnelwatch.telephony import importer


class Command(BaseCommand):
    help = "Import calls from a PBX CDR file (Asterisk Master.csv, cdr_custom, FreeSWITCH)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("path")
        parser.add_argument("--format", required=True, choices=importer.FORMATS, dest="fmt")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument(
            "--follow",
            action="store_true",
            help="keep reading lines appended to the file (Ctrl-C stops)",
        )
        parser.add_argument("--tz", default="", help="zone of the times in the file")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads")

    def handle(self, *args, **opts) -> None:  # noqa: ANN002, ANN003
        tz = ZoneInfo(opts["tz"]) if opts["tz"] else None
        try:
            if opts["follow"]:

                def show(report: importer.ImportReport) -> None:
                    self._print(report, opts["json"])

                try:
                    report = importer.follow(
                        opts["path"], opts["fmt"], tz=tz, poll_seconds=opts["poll"], on_batch=show
                    )
                except KeyboardInterrupt:
                    return
            else:
                report = importer.import_file(opts["path"], opts["fmt"], tz=tz)
        except FileNotFoundError as exc:
            raise CommandError(f"{opts['path']}: no such file") from exc
        self._print(report, opts["json"])

    def _print(self, report: importer.ImportReport, as_json: bool) -> None:
        data = report.as_dict()
        if as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        self.stdout.write(
            f"rows read: {data['rows_read']}\ncalls created: {data['calls_created']}\n"
            f"duplicates skipped: {data['duplicates_skipped']}\n"
            f"legs added to earlier calls: {data['legs_added']}\n"
            f"leads created: {data['leads_created']}\nrows rejected: {data['rows_rejected']}"
        )
        for item in data["rejected"]:
            self.stdout.write(f"  line {item['line']}: {item['reason']}")
