"""Signed events for the JSON call webhook, and the check that each was stored once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time

SECRET = os.environ.get("FUNNELWATCH_CALLS_WEBHOOK_SECRET", "bench-secret")
PATH = "/api/telephony/webhooks/calls"
BASE = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
# Events of this run only: a rerun on the same database must not meet its own earlier ones.
RUN = f"{int(time.time())}"


def make_event(i: int) -> tuple[str, dict[str, str], bytes]:
    start = BASE + dt.timedelta(seconds=7 * i)
    answered = i % 3 != 0
    body = json.dumps(
        {
            "event_id": f"bench-{RUN}-{i}",
            "call_id": f"bench-call-{RUN}-{i}",
            "direction": "in" if i % 2 else "out",
            "from": f"+9769{i % 9000000 + 1000000:07d}" if i % 2 else "1000",
            "to": "1000" if i % 2 else f"+9769{i % 9000000 + 1000000:07d}",
            "extension": "1000",
            "started_at": start.isoformat(),
            "answered_at": (start + dt.timedelta(seconds=5)).isoformat() if answered else None,
            "ended_at": (start + dt.timedelta(seconds=65)).isoformat(),
            "talk_seconds": 60 if answered else 0,
            "outcome": "answered" if answered else "no_answer",
        }
    ).encode()
    ts = str(int(time.time()))
    sig = (
        "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    headers = {
        "Content-Type": "application/json",
        "X-Funnelwatch-Timestamp": ts,
        "X-Funnelwatch-Signature": sig,
    }
    return PATH, headers, body


def stored_counts(sent: int) -> tuple[int, int]:
    """(distinct events stored, extra copies) among the ``sent`` bench events."""
    from django.db.models import Count

    from funnelwatch.telephony.models import Call

    calls = Call.objects.filter(provider="generic", external_id__startswith=f"bench-call-{RUN}-")
    distinct = calls.values("external_id").distinct().count()
    extra = sum(
        row["n"] - 1 for row in calls.values("external_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    return distinct, extra
