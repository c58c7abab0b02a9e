from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User
from funnelwatch.core.demo import DemoContext, app_generators


class Command(BaseCommand):
    help = "Build a believable demo sales department, deterministic for a given seed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--months", type=int, default=6)
        parser.add_argument("--managers", type=int, default=10)
        parser.add_argument(
            "--now", help="pretend it is this moment (ISO 8601), for reproducible data"
        )
        parser.add_argument("--reset", action="store_true", help="erase the database first")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument("--summary-file", help="also write the text summary to this file")
        parser.add_argument(
            "--language",
            help="write names, stages, reasons and the rest in this language "
            "(en, ru or mn; the default is the site's LANGUAGE_CODE)",
        )

    def handle(self, *args, **opts) -> None:
        language = opts["language"] or settings.LANGUAGE_CODE.split("-")[0] or "en"
        known = [code for code, _name in settings.LANGUAGES]
        if language not in known:
            raise CommandError(f"--language must be one of {', '.join(known)}, not {language!r}")
        with translation.override(language):
            self._build(language, opts)

    def _build(self, language: str, opts: dict) -> None:
        if opts["months"] < 1 or opts["managers"] < 2:
            raise CommandError("--months must be at least 1 and --managers at least 2")
        if opts["reset"]:
            call_command("flush", interactive=False, verbosity=0)
        elif User.objects.exists():
            raise CommandError(
                "The database already has users; use --reset to replace them "
                "with the demo department."
            )
        now = self._now(opts["now"])
        ctx = DemoContext(
            seed=opts["seed"],
            months=opts["months"],
            managers_count=opts["managers"],
            rng=random.Random(opts["seed"]),
            now=now,
            start=now - dt.timedelta(days=30 * opts["months"]),
            language=language,
        )
        started = time.monotonic()
        from funnelwatch.crm import demo as crm_demo

        # The metrics part rebuilds the rollups from the generated history in one pass, so
        # refreshing them after every event the CRM part writes would be wasted work.
        from funnelwatch.metrics.refresh import suspended

        timings = []
        with suspended(), transaction.atomic():
            crm_demo.generate(ctx)
        timings.append(("crm", time.monotonic() - started))
        for generate in app_generators():
            part_started = time.monotonic()
            with transaction.atomic():
                generate(ctx)
            timings.append((generate.__module__.split(".")[1], time.monotonic() - part_started))
        ctx.notes.append(
            _("Time per part: %(parts)s.")
            % {"parts": ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings)}
        )
        summary = {"logins": ctx.logins, "planted": ctx.planted}
        text = self._text(ctx, time.monotonic() - started)
        if opts["summary_file"]:
            Path(opts["summary_file"]).write_text(text + "\n")
        self.stdout.write(json.dumps(summary, indent=2) if opts["json"] else text)

    def _now(self, raw: str | None) -> dt.datetime:
        if not raw:
            return timezone.now().replace(second=0, microsecond=0)
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--now: not an ISO 8601 moment: {raw!r}") from None
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment

    def _text(self, ctx: DemoContext, seconds: float) -> str:
        lines = [_("Demo department ready in %(s).0f s.") % {"s": seconds}, "", _("Logins:")]
        for login in ctx.logins:
            lines.append(f"  {login['role']:<10} {login['username']} / {login['password']}")
        lines += ["", _("What to look for:")]
        planted = ctx.planted
        if "activity_drop_manager" in planted:
            name = User.objects.get(username=planted["activity_drop_manager"])
            lines.append(
                "  "
                + _("%(name)s (%(user)s): activity fell by half in the last two weeks")
                % {"name": name, "user": name.username}
            )
        labels = {
            "stalled_deals": _("deals stalled past their stage norm"),
            "leads_never_called": _("new leads nobody has called"),
            "revivable_lost_deals": _("lost deals worth reviving"),
        }
        for key, value in planted.items():
            if isinstance(value, list):
                label = labels.get(key, key.replace("_", " "))
                lines.append(f"  {label}: {', '.join(f'#{v}' for v in value)}")
        lines += [f"  {note}" for note in ctx.notes]
        return "\n".join(lines)
