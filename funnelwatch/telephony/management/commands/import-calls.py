"""``funnelwatch import-calls PATH --format ...``: CDR files into calls."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from funnelwatch.telephony import importer


class Command(BaseCommand):
    help = (
        "Import calls from a PBX CDR file (Asterisk Master.csv, cdr_custom, FreeSWITCH). "
        "Exits non-zero when no row of the file could be imported."
    )

    def add_arguments(self, parser) -> None:
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

    def handle(self, *args, **opts) -> None:
        path = opts["path"]
        try:
            if opts["tz"]:
                tz = importer.zone(opts["tz"])
            else:
                name = settings.FUNNELWATCH_CDR_TIMEZONE
                tz = importer.zone(name, "FUNNELWATCH_CDR_TIMEZONE") if name else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not math.isfinite(opts["poll"]) or opts["poll"] <= 0:
            raise CommandError(f"--poll: {opts['poll']} is not a positive number of seconds")
        self._check_readable(path, must_exist=not opts["follow"])
        try:
            if opts["follow"]:

                def show(report: importer.ImportReport) -> None:
                    self._print(report, opts["json"])

                try:
                    report = importer.follow(
                        path, opts["fmt"], tz=tz, poll_seconds=opts["poll"], on_batch=show
                    )
                except KeyboardInterrupt:
                    return
            else:
                report = importer.import_file(path, opts["fmt"], tz=tz)
        except OSError as exc:  # the file went away or became unreadable meanwhile
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        except DatabaseError as exc:  # the database itself (away, locked, full)
            raise CommandError(
                f"the database stopped the import: {exc}. Batches stored before it are "
                "kept; importing the file again adds only what is missing."
            ) from None
        self._print(report, opts["json"])
        if report.nothing_imported:
            raise CommandError(
                f"{path}: nothing imported ({report.rows_read} rows read, all rejected)"
            )

    @staticmethod
    def _check_readable(path: str, must_exist: bool) -> None:
        """A clear error for what is not a readable file (``--follow`` may wait for a
        file that does not exist yet, as ``tail -F`` does)."""
        p = Path(path)
        if p.is_dir():
            raise CommandError(f"{path}: is a directory, not a CDR file")
        if not p.exists():
            if must_exist:
                raise CommandError(f"{path}: no such file")
            return
        if not os.access(p, os.R_OK):
            raise CommandError(f"{path}: permission denied")

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
