"""``funnelwatch restore ARCHIVE [--force] [--json]``: see :mod:`funnelwatch.ops.restore`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.ops import restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an empty data folder or database: checksums first, "
        "then the database, media and keys, then the rollups and the audit trail are checked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="a funnelwatch-….tar.gz backup")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace a database or media folder that is not empty (what is replaced is "
            "kept beside it: …replaced-STAMP)",
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
        parser.add_argument(
            "--no-verify",
            action="store_true",
            help="skip the rollup and audit checks afterwards (run them later: "
            "funnelwatch rollups verify)",
        )

    def handle(self, *args: object, **opts: object) -> None:
        try:
            result = restore.restore(
                opts["archive"], force=opts["force"], verify=not opts["no_verify"]
            )
        except (restore.RestoreError, OSError) as exc:
            if opts["json"]:
                self.stdout.write(
                    json.dumps({"archive": str(opts["archive"]), "error": str(exc), "ok": False})
                )
            raise CommandError(f"restore refused: {exc}") from None
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            rows = sum(result.tables.values())
            self.stdout.write(
                f"restored {result.archive} (Funnelwatch {result.version}, {result.created_at}): "
                f"{len(result.tables)} tables, {rows:,} rows, {result.media_files} files"
            )
            for name in result.migrated:
                self.stdout.write(f"migrated: {name}")
            for path in result.replaced:
                self.stdout.write(f"replaced data kept in: {path}")
            for name, check in result.checks.items():
                self.stdout.write(
                    f"{name}: {'ok' if check['ok'] else 'FAILED'} — {check['detail']}"
                )
            for warning in result.warnings:
                self.stderr.write(f"warning: {warning}")
        if not result.ok:
            failed = ", ".join(name for name, check in result.checks.items() if not check["ok"])
            raise CommandError(f"restored, but the checks failed: {failed}")
