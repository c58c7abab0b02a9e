from __future__ import annotations

import signal
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from funnelwatch.core import periodic


class Command(BaseCommand):
    help = "Run the periodic jobs that are due (alerts, digests, rollup upkeep, mail sync)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help="keep running, checking every minute"
        )
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
        parser.add_argument("--job", help="run only this job")
        parser.add_argument("--force", action="store_true", help="run even if not due yet")
        parser.add_argument("--list", action="store_true", help="list the registered jobs")

    def handle(self, *args, **opts) -> None:
        if opts["list"]:
            for job in sorted(periodic.JOBS.values(), key=lambda j: j.name):
                self.stdout.write(f"{job.name}\tevery {job.every}")
            return
        if opts["job"] and opts["job"] not in periodic.JOBS:
            self.stderr.write(f"unknown job {opts['job']!r}; see --list")
            raise SystemExit(2)
        if not opts["loop"]:
            self._run_once(opts)
            return
        # Looping, it says it is alive every few seconds (the status page, /healthz); run
        # from cron instead, the periodic jobs' lag tells whether it runs.
        from funnelwatch.ops.heartbeat import Beater

        # systemd stops it with SIGTERM: leave through ``finally`` so it says it stopped.
        signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
        beater = Beater("periodic", float(settings.FUNNELWATCH_HEARTBEAT_SECONDS)).start()
        try:
            while True:
                self._run_once(opts)
                time.sleep(opts["interval"])
        finally:
            beater.stop()

    def _run_once(self, opts: dict) -> None:
        for name, outcome in periodic.run_due(only=opts["job"], force=opts["force"]):
            self.stdout.write(f"{name}: {outcome}")
