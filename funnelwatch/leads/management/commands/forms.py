from __future__ import annotations

import getpass
import json
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as
from funnelwatch.leads.models import WebForm


def _operator() -> str:
    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = "unknown"
    return f"funnelwatch forms, run by {who}@{socket.gethostname()}"[:100]


def _as_json(form: WebForm) -> dict:
    url = settings.SITE_URL.rstrip("/") + reverse("lead_form", args=[form.key])
    return {"id": form.pk, "key": form.key, "url": url}


class Command(BaseCommand):
    help = "Web forms whose submissions become leads: add one, or list them."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a form and print its key and address")
        add.add_argument("--name", required=True)
        add.add_argument("--thank-you", default="", help="page to send visitors to afterwards")
        add.add_argument("--origin", action="append", default=[], help="a site allowed to post")
        add.add_argument("--json", action="store_true")
        lst = sub.add_parser("list", help="every form")
        lst.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        if opts["action"] == "list":
            rows = [_as_json(f) | {"name": f.name} for f in WebForm.objects.all()]
            if opts["json"]:
                self.stdout.write(json.dumps(rows, ensure_ascii=False))
            else:
                for row in rows:
                    self.stdout.write(f"{row['id']}\t{row['name']}\t{row['url']}")
            return
        name = opts["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name: give the form a name of at most 100 characters")
        form = WebForm(
            name=name, thank_you_url=opts["thank_you"], allowed_origins="\n".join(opts["origin"])
        )
        try:
            form.full_clean()
        except Exception as exc:
            raise CommandError(str(exc)) from None
        with (
            transaction.atomic(),
            acting_as(None, source=AuditEvent.Source.SYSTEM, name=_operator()),
        ):
            form.save()
        out = _as_json(form)
        if opts["json"]:
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(f"{out['id']}\t{out['key']}\t{out['url']}")
