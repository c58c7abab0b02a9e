"""``funnelwatch import-deals PATH [PATH…] --format …``: deals, companies, contacts and
their history from another CRM's export or any spreadsheet."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import translation

from funnelwatch.imports import engine, presets


class Command(BaseCommand):
    help = (
        "Import deals (with companies, contacts, owners and stage history) from Kommo/amoCRM, "
        "Bitrix24, Pipedrive or HubSpot exports, or any CSV/XLSX with --mapping. One "
        "transaction per batch; --dry-run writes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--format", required=True, choices=presets.FORMATS, dest="fmt")
        parser.add_argument("--mapping", help="a JSON mapping file (required for generic)")
        parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts) -> None:
        # Reasons and warnings in the deployment's language (LANGUAGE_CODE), whatever the
        # process did before.
        with translation.override(settings.LANGUAGE_CODE):
            self._handle(opts)

    def _handle(self, opts: dict) -> None:
        files = [(Path(p).name, self._read(p)) for p in opts["paths"]]
        mapping = {}
        if opts["mapping"]:
            try:
                mapping = json.loads(self._read(opts["mapping"]).decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CommandError(f"{opts['mapping']}: not a JSON mapping ({exc})") from None
        try:
            report, _batch = engine.run(files, opts["fmt"], mapping, dry_run=opts["dry_run"])
        except engine.ImportFailed as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                f"the database stopped the import, nothing was written: {exc}"
            ) from None
        data = report.as_dict()
        if opts["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        verb = "would be " if opts["dry_run"] else ""
        self.stdout.write(
            f"rows: {data['rows']}\n{verb}created: {data['created']}\n"
            f"{verb}updated: {data['updated']}\nunchanged: {data['unchanged']}\n"
            f"rejected: {len(data['rejected'])}\nwarnings: {len(data['warnings'])}"
        )
        for item in data["rejected"]:
            self.stdout.write(f"  line {item['line']}: {item['error']}")
        for name, username in data["owners"].items():
            self.stdout.write(f"  owner {name} -> {username}")

    @staticmethod
    def _read(path: str) -> bytes:
        p = Path(path)
        if p.is_dir():
            raise CommandError(f"{path}: is a directory, not a file")
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
