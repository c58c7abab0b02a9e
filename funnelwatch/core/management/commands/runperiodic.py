from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from funnelwatch.core import periodic


class Command(BaseCommand):
    help = "Run the periodic jobs that are due (alerts, digests, rollup upkeep, mail sync)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument(
            "--loop", action="store_true", help="keep running, checking every minute"
        )
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
        parser.add_argument("--job", help="run only this job")
        parser.add_argument("--force", action="store_true", help="run even if not due yet")
        parser.add_argument("--list", action="store_true", help="list the registered jobs")

    def handle(self, *args, **opts) -> None:  # noqa: ANN002, ANN003
        if opts["list"]:
            for job in sorted(periodic.JOBS.values(), key=lambda j: j.name):
                self.stdout.write(f"{job.name}\tevery {job.every}")
            return
        if opts["job"] and opts["job"] not in periodic.JOBS:
            self.stderr.write(f"unknown job {opts['job']!r}; see --list")
            raise SystemExit(2)
        while True:
            for name, outcome in periodic.run_due(only=opts["job"], force=opts["force"]):
                self.stdout.write(f"{name}: {outcome}")
            if not opts["loop"]:
                break
            time.sleep(opts["interval"])
