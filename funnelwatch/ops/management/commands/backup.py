"""``funnelwatch backup [--to DIR] [--json] [--prune]``: see :mod:`funnelwatch.ops.backup`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.ops import backup


class Command(BaseCommand):
    help = (
        "Write one archive with a consistent snapshot of the database (while the product "
        "runs), the recordings and attachments, the keys and a manifest of checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            type=Path,
            help="folder for the archive (default FUNNELWATCH_BACKUP_DIR, else DATA_DIR/backups)",
        )
        parser.add_argument(
            "--json", action="store_true", help='print {"archive", "bytes", "tables"} as JSON'
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="then delete the folder's archives that FUNNELWATCH_BACKUP_KEEP_DAILY and "
            "_KEEP_WEEKLY do not keep",
        )

    def handle(self, *args: object, **opts: object) -> None:
        folder = opts["to"] or backup.backup_dir()
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"--to: {folder} is not a folder")
        try:
            result = backup.take(folder, trigger="command", prune=opts["prune"])
        except (backup.BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from None
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        rows = sum(result.tables.values())
        self.stdout.write(
            f"{result.archive}\n{result.bytes:,} bytes, {len(result.tables)} tables, "
            f"{rows:,} rows, {result.files} files, SHA-256 {result.sha256}, "
            f"{result.seconds:.1f} s"
        )
        for name in result.deleted:
            self.stdout.write(f"deleted by retention: {name}")
