"""``funnelwatch mail add-mailbox|sync|messages``: mailboxes for administrators and scripts."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from funnelwatch.accounts.models import User
from funnelwatch.audit.trail import acting_as
from funnelwatch.mail.models import Mailbox, Message, Security
from funnelwatch.mail.services import MailError, add_mailbox
from funnelwatch.mail.sync import sync_all


class Command(BaseCommand):
    help = "Connect mailboxes, sync them over IMAP, list stored letters."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add-mailbox", help="connect an IMAP mailbox; prints its id")
        add.add_argument("--user", required=True, help="username of the manager")
        add.add_argument("--host", required=True)
        add.add_argument("--port", type=int, required=True)
        add.add_argument("--login", required=True)
        add.add_argument(
            "--password-file", required=True, help="file holding the password (not echoed)"
        )
        add.add_argument("--security", choices=Security.values, default=Security.SSL)
        add.add_argument("--folders", default="INBOX,Sent", help="comma-separated folder names")
        add.add_argument(
            "--shared-bcc", action="store_true", help="the shared BCC mailbox the product reads"
        )

        sync = sub.add_parser("sync", help="fetch new letters and changes from the servers")
        sync.add_argument("--mailbox", type=int, help="only this mailbox id")
        sync.add_argument("--json", action="store_true", help="print the result as JSON")

        msgs = sub.add_parser("messages", help="list stored letters")
        msgs.add_argument("--mailbox", type=int, help="letters seen in this mailbox id")
        msgs.add_argument("--format", choices=["json", "text"], default="text")
        msgs.add_argument("--limit", type=int, default=0, help="newest N letters (0: all)")

    def handle(self, *args, **opts) -> None:
        getattr(self, "_" + opts["action"].replace("-", "_"))(opts)

    def _add_mailbox(self, opts: dict) -> None:
        user = User.objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"--user: no user named {opts['user']!r}")
        try:
            password = Path(opts["password_file"]).read_text().rstrip("\r\n")
        except OSError as exc:
            raise CommandError(f"--password-file: cannot read it ({exc.strerror})") from None
        try:
            with acting_as(None, source="system", name="funnelwatch mail add-mailbox"):
                box = add_mailbox(
                    actor=None,
                    user=user,
                    host=opts["host"],
                    port=opts["port"],
                    login=opts["login"],
                    password=password,
                    security=opts["security"],
                    folders=opts["folders"],
                    is_shared_bcc=opts["shared_bcc"],
                )
        except MailError as exc:
            name = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{name}{exc.message}") from None
        self.stdout.write(str(box.pk))

    def _sync(self, opts: dict) -> None:
        if opts["mailbox"] is not None and not Mailbox.objects.filter(pk=opts["mailbox"]).exists():
            raise CommandError(f"--mailbox: no mailbox {opts['mailbox']}")
        results = sync_all(opts["mailbox"])
        total = {
            "fetched": sum(r.fetched for r in results),
            "updated": sum(r.updated for r in results),
            "failed": sum(r.failed for r in results),
            "mailboxes": [r.as_dict() for r in results],
        }
        if opts["json"]:
            self.stdout.write(json.dumps(total, ensure_ascii=False))
        else:
            for r in results:
                line = f"mailbox {r.mailbox}: fetched {r.fetched}, linked {r.linked}, "
                line += f"updated {r.updated}, failed {r.failed}"
                self.stdout.write(line)
                for err in r.errors:
                    self.stdout.write(f"  error: {err}")
        if total["failed"]:
            raise SystemExit(1)

    def _messages(self, opts: dict) -> None:
        qs = Message.objects.all()
        if opts["mailbox"] is not None:
            qs = qs.filter(Q(mailbox_id=opts["mailbox"]) | Q(copies__mailbox_id=opts["mailbox"]))
            qs = qs.distinct()
        qs = qs.order_by("sent_at", "id").values(
            "id",
            "mailbox_id",
            "message_id",
            "thread",
            "direction",
            "from_addr",
            "to_addrs",
            "subject",
            "sent_at",
            "contact_id",
            "deal_id",
            "deleted_on_server",
        )
        rows = list(qs)
        if opts["limit"]:
            rows = rows[-opts["limit"] :]
        out = [
            {
                "id": r["id"],
                "mailbox": r["mailbox_id"],
                "message_id": r["message_id"],
                "thread": r["thread"],
                "direction": r["direction"],
                "from": r["from_addr"],
                "to": [a for a in r["to_addrs"].split(",") if a],
                "subject": r["subject"],
                "sent_at": r["sent_at"].isoformat(),
                "contact": r["contact_id"],
                "deal": r["deal_id"],
                "deleted_on_server": r["deleted_on_server"],
            }
            for r in rows
        ]
        if opts["format"] == "json":
            self.stdout.write(json.dumps(out, ensure_ascii=False, indent=1))
            return
        for r in out:
            mark = " [deleted on server]" if r["deleted_on_server"] else ""
            self.stdout.write(
                f"{r['id']}\t{r['sent_at'][:16]}\t{r['direction']}\t{r['from']}\t"
                f"{r['subject']}{mark}"
            )
