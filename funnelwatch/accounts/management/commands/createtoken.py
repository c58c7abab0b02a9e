from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from funnelwatch.accounts.models import User
from funnelwatch.accounts.tokens import issue_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("username")
        parser.add_argument("--name", default="script", help="what the token is for")

    def handle(self, *args, **opts) -> None:  # noqa: ANN002, ANN003
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {opts['username']!r}")
        self.stdout.write(issue_token(user, opts["name"]))
