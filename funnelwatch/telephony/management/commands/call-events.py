"""``funnelwatch call-events [--loop]``: process queued webhook events in batches."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from funnelwatch.telephony import webhooks


class Command(BaseCommand):
    help = "Process webhook events queued with FUNNELWATCH_WEBHOOK_MODE=queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep processing")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, **opts) -> None:
        while True:
            result = webhooks.process_pending()
            if result["processed"] or result["failed"]:
                self.stdout.write(str(result))
            if not opts["loop"]:
                return
            if result["processed"] + result["failed"] == 0:
                time.sleep(opts["interval"])
