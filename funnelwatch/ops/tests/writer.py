"""Writes while a backup runs (``python -m funnelwatch.ops.tests.writer KIND STOP PROGRESS``):
signed webhooks through the web stack (``webhooks``) or a user's new leads through the
CRM's services (``leads``), numbered 0, 1, 2, … one after the other, each in its own
transaction, until the file STOP appears. PROGRESS holds how many were written."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

LIMIT = 5000


def main() -> None:
    kind, stop, progress = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    import django

    django.setup()
    from django.test import Client

    from funnelwatch.accounts.models import User
    from funnelwatch.crm import services
    from funnelwatch.telephony.providers import generic

    client = Client()
    secret = os.environ["FUNNELWATCH_CALLS_WEBHOOK_SECRET"]
    user = User.objects.get(username="writer")
    n = 0
    while not stop.exists() and n < LIMIT:
        if kind == "webhooks":
            body = json.dumps(
                {
                    "event_id": f"conc-{n}",
                    "call_id": f"conc-{n}",
                    "direction": "in",
                    "from": "+97699110000",
                    "to": "101",
                    "extension": "101",
                    "started_at": "2026-03-02T10:00:00+08:00",
                    "ended_at": "2026-03-02T10:01:00+08:00",
                    "talk_seconds": 50,
                    "outcome": "answered",
                }
            ).encode()
            stamp = str(int(time.time()))
            response = client.post(
                "/api/telephony/webhooks/calls",
                body,
                content_type="application/json",
                headers={
                    "X-Funnelwatch-Timestamp": stamp,
                    "X-Funnelwatch-Signature": generic.signature(secret, stamp, body),
                },
            )
            if response.status_code != 200:
                raise SystemExit(f"webhook {n}: {response.status_code} {response.content[:300]}")
        else:
            services.create_lead(actor=user, title=f"conc-{n}", owner=user, amount=n + 1)
        n += 1
        progress.write_text(str(n))


if __name__ == "__main__":
    main()
