"""Our own JSON call webhook, for PBXs and scripts that can POST JSON.

Signed with a shared secret: header ``X-Funnelwatch-Timestamp`` (Unix seconds) and
``X-Funnelwatch-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.
Requests older than five minutes are refused (a replay); the same ``event_id`` twice is
stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from funnelwatch.telephony.providers import base

PROVIDER = "generic"
MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, given: str, now: float | None = None
) -> str | None:
    """None when valid, else the reason."""
    if not secret:
        return "the webhook secret is not configured"
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return "X-Funnelwatch-Timestamp is missing or not a number"
    if abs((now if now is not None else time.time()) - ts) > MAX_SKEW_SECONDS:
        return "X-Funnelwatch-Timestamp is too old or in the future (replay?)"
    if not hmac.compare_digest(signature(secret, timestamp, body), given or ""):
        return "X-Funnelwatch-Signature does not match"
    return None


def to_record(data) -> base.CallRecord:
    """The call record of an event, or ParseError naming the field: times outside the
    accepted range (``base.time_bounds``), a call ending before it starts or lasting over
    24 hours, seconds over 24 hours, a leg id given twice."""
    bounds = base.time_bounds()
    started = base.check_time(data.started_at, "started_at", bounds)
    ended = base.check_time(data.ended_at, "ended_at", bounds) if data.ended_at else None
    answered_at = (
        base.check_time(data.answered_at, "answered_at", bounds) if data.answered_at else None
    )
    if ended and ended < started:
        raise base.ParseError("ends before it starts", "ended_at")
    duration = int((ended - started).total_seconds()) if ended else 0
    if duration > base.MAX_SECONDS:
        raise base.ParseError("the call lasts more than 24 hours", "ended_at")
    base.check_seconds(data.talk_seconds, "talk_seconds")
    seen: set[str] = set()
    for i, leg in enumerate(data.legs or []):
        base.check_seconds(leg.billsec, f"legs[{i}].billsec")
        if leg.leg_id in seen:
            raise base.ParseError(f"{leg.leg_id!r} is given twice", f"legs[{i}].leg_id")
        seen.add(leg.leg_id)
    legs = []
    for i, leg in enumerate(data.legs or []):
        legs.append(
            base.LegRecord(
                leg_id=leg.leg_id,
                channel=leg.channel,
                dstchannel=leg.dstchannel,
                disposition=leg.disposition,
                billsec=leg.billsec,
                answered=leg.answered and leg.billsec > 0,
                outcome=base.ANSWERED if (leg.answered and leg.billsec > 0) else base.NO_ANSWER,
                extension=leg.extension or "",
                started_at=started,
                ended_at=ended,
                src=data.from_number,
                dst=data.to_number,
                raw=leg.model_dump(mode="json"),
                line=i,
            )
        )
    answered = data.outcome == base.ANSWERED and data.talk_seconds > 0
    if not legs:
        legs = [
            base.LegRecord(
                leg_id=data.call_id,
                answered=answered,
                billsec=data.talk_seconds if answered else 0,
                outcome=base.ANSWERED
                if answered
                else (data.outcome if data.outcome != base.ANSWERED else base.NO_ANSWER),
                extension=data.extension or "",
                started_at=started,
                answered_at=answered_at,
                ended_at=ended,
                src=data.from_number,
                dst=data.to_number,
                disposition=data.outcome,
            )
        ]
    rec = base.combine(PROVIDER, data.call_id, legs)
    if rec.outcome != base.ANSWERED and data.outcome != base.ANSWERED:
        rec.outcome = data.outcome  # busy / failed / cancelled as the PBX said
    rec.direction = data.direction
    rec.from_raw, rec.to_raw = data.from_number, data.to_number
    rec.extension = data.extension or rec.extension
    rec.started_at, rec.ended_at = started, ended
    rec.answered_at = answered_at if rec.outcome == base.ANSWERED else None
    if ended:
        rec.duration_s = duration
    rec.hangup_cause = data.hangup_cause
    rec.recording_url = data.recording_url
    rec.raw = data.model_dump(mode="json")
    return rec
