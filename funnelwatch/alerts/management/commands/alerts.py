from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from funnelwatch.accounts.models import User
from funnelwatch.alerts import engine, queries
from funnelwatch.alerts.models import Alert, Status


class Command(BaseCommand):
    help = "List alerts (optionally re-evaluating the rules first)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--status", choices=Status.values, help="only alerts in this status")
        parser.add_argument("--kind", help="only alerts of this kind")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--user", help="only what this user may see")
        parser.add_argument("--evaluate", action="store_true", help="evaluate the rules first")

    def handle(self, *args, **opts) -> None:
        if opts["evaluate"]:
            for kind, outcome in engine.evaluate().items():
                self.stderr.write(f"{kind}: {outcome}")
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"no user {opts['user']!r}")
            qs = queries.alerts_for(user, opts["status"], opts["kind"])
        else:
            qs = Alert.objects.select_related("manager")
            if opts["status"]:
                qs = qs.filter(status=opts["status"])
            if opts["kind"]:
                qs = qs.filter(kind=opts["kind"])
        rows = [queries.as_json(a) for a in qs]
        if opts["format"] == "json":
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for row in rows:
            self.stdout.write(
                f"{row['id']}\t{row['status']}\t{row['kind']}\t"
                f"{row['manager'] or '-'}\t{row['message']}"
            )
