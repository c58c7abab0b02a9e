"""``funnelwatch calendar-url USERNAME``: the user's secret calendar address."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from funnelwatch.accounts.models import User
from funnelwatch.handoffs import feeds


class Command(BaseCommand):
    help = "Print a user's calendar feed address (iCalendar); --revoke makes a new one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--revoke", action="store_true", help="stop the old address and print a new one"
        )

    def handle(self, *args, **opts) -> None:
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {opts['username']!r}")
        if opts["revoke"]:
            feeds.revoke(user, actor=None)
        self.stdout.write(feeds.feed_url(user))
