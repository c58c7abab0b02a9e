"""``funnelwatch mystery-calls --provider P EXTERNAL_ID...``: flag imported calls as made by
a mystery shopper (the PBX's own call ids, as in ``import-calls``). Prints what it marked;
a call not found, or marked already, is named and skipped."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.skills import services
from funnelwatch.skills.models import MysteryCall


class Command(BaseCommand):
    help = "Mark imported calls as mystery-shopper test calls."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("external_ids", nargs="+", metavar="EXTERNAL_ID")
        parser.add_argument("--provider", required=True, help="the provider the calls came from")
        parser.add_argument("--note", default="", help="a note kept with each mark")

    def handle(self, *args: object, **o: object) -> None:
        from funnelwatch.telephony.models import Call

        if len(o["note"]) > 300:
            raise CommandError("--note: at most 300 characters")
        marked, missing, already = [], [], []
        for external_id in o["external_ids"]:
            call = Call.objects.filter(provider=o["provider"], external_id=external_id).first()
            if call is None:
                missing.append(external_id)
                continue
            try:
                services.mark_mystery(call, None, o["note"], source=MysteryCall.Source.IMPORT)
            except services.SkillsError:
                already.append(external_id)
                continue
            marked.append(call.pk)
        self.stdout.write(
            json.dumps({"marked": marked, "not_found": missing, "marked_already": already})
        )
        if missing:
            raise CommandError(f"calls not found: {', '.join(missing)}")
