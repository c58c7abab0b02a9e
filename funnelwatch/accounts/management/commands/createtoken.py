from __future__ import annotations

import getpass
import socket

from django.core.management.base import BaseCommand, CommandError

from funnelwatch.accounts.models import User
from funnelwatch.accounts.tokens import issue_token
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as


def _operator() -> str:
    """Who runs the command: there is no signed-in user at a shell, so the trail names
    the operating-system account and host."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = "unknown"
    return f"{who}@{socket.gethostname()}"


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it (it is shown only once). The audit "
        "trail records the token's name and user, never the token."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="script", help="what the token is for")

    def handle(self, *args, **opts) -> None:
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {opts['username']!r}")
        if not opts["name"].strip() or len(opts["name"]) > 100:
            raise CommandError("--name: give what the token is for, in at most 100 characters")
        name = f"funnelwatch createtoken, run by {_operator()}"[:100]
        with acting_as(None, source=AuditEvent.Source.SYSTEM, name=name):
            token = issue_token(user, opts["name"].strip())
        self.stdout.write(token)
