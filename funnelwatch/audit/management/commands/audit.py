"""``funnelwatch audit verify [--json] [--anchor ID:HASH]``: check the audit trail's hash
chain (see ``funnelwatch.audit.chain``)."""

from __future__ import annotations

import json
import re

from django.core.management.base import BaseCommand, CommandError, CommandParser

from funnelwatch.audit import chain

ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _anchor(value: str) -> tuple[int, str]:
    match = ANCHOR.match(value.strip())
    if not match:
        raise CommandError(f"--anchor: expected ID:HASH (64 hex digits), got {value!r}")
    return int(match.group(1)), match.group(2)


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every event's hash and its link to the event before it. "
        "Exits non-zero and names the first broken or missing link."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="check the hash chain")
        verify.add_argument("--json", action="store_true", help="print the result as JSON")
        verify.add_argument(
            "--anchor",
            type=_anchor,
            help="ID:HASH of an event noted earlier (last_id and last_hash of an earlier "
            "run): it must still be in the chain, so events cut off its end show",
        )

    def handle(self, *args: object, action: str, **options: object) -> None:
        verdict = chain.verify(anchor=options.get("anchor"))
        if options["json"]:
            self.stdout.write(json.dumps(verdict.as_dict()))
        if verdict.intact:
            if options["json"]:
                return
            if verdict.events:
                self.stdout.write(
                    f"intact: {verdict.events} events; the last is #{verdict.last_id} "
                    f"with hash {verdict.last_hash} (note both to check later with --anchor)"
                )
            else:
                self.stdout.write("intact: 0 events")
            return
        raise CommandError(
            f"audit trail broken at event #{verdict.broken_at}: {verdict.problem} "
            f"({verdict.events} events before it are intact)"
        )
