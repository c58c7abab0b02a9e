"""``funnelwatch version [--json]``."""

from __future__ import annotations

import json
import platform

import django
from django.core.management.base import BaseCommand, CommandParser

from funnelwatch.ops.version import version


class Command(BaseCommand):
    help = "Print Funnelwatch's version (from the package metadata)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print it as JSON")

    def handle(self, *args: object, **opts: object) -> None:
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "version": version(),
                        "python": platform.python_version(),
                        "django": django.get_version(),
                    }
                )
            )
            return
        self.stdout.write(version())
