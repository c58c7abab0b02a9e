"""``funnelwatch quality analyze-file PATH`` and ``funnelwatch quality analyze``."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from funnelwatch.quality.audio import AudioError, analyze_file


class Command(BaseCommand):
    help = "Analyse call recordings: conversation metrics and flags."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        f = sub.add_parser(
            "analyze-file", help="Print the metrics of one audio file (nothing is stored)."
        )
        f.add_argument("path")
        f.add_argument(
            "--manager-channel",
            choices=["left", "right"],
            default=settings.FUNNELWATCH_QUALITY_MANAGER_CHANNEL,
        )
        f.add_argument(
            "--vad", choices=["auto", "energy", "webrtc"], default=settings.FUNNELWATCH_QUALITY_VAD
        )
        f.add_argument("--json", action="store_true", help="Print JSON.")
        a = sub.add_parser("analyze", help="Analyse stored recordings (again).")
        a.add_argument("--since", help="Only calls started on or after this day (YYYY-MM-DD).")
        a.add_argument("--call", type=int, help="Only this call id.")
        a.add_argument(
            "--force",
            action="store_true",
            help="Re-analyse recordings that already have an analysis.",
        )

    def handle(self, *args, **opts) -> None:
        if opts["action"] == "analyze-file":
            self.analyze_file(opts)
        else:
            self.analyze(opts)

    def analyze_file(self, opts: dict) -> None:
        try:
            result = analyze_file(
                opts["path"],
                manager_channel=opts["manager_channel"],
                vad=opts["vad"],
                ffmpeg=settings.FUNNELWATCH_FFMPEG or None,
            )
        except (AudioError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        summary = result.summary()
        if opts["json"]:
            self.stdout.write(json.dumps(summary))
            return
        for key, value in summary.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            self.stdout.write(f"{key:30} {'-' if shown is None or shown == '' else shown}")
        self.stdout.write(f"{'vad':30} {result.vad}")

    def analyze(self, opts: dict) -> None:
        from funnelwatch.quality import services

        done, failed = services.analyze_existing(
            since=opts.get("since"),
            call_id=opts.get("call"),
            force=opts.get("force", False),
            out=self.stdout,
        )
        self.stdout.write(f"analysed {done}, failed {failed}")
