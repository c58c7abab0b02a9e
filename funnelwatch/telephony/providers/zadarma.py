"""Zadarma PBX notifications (docs/telephony.md).

Form-encoded POSTs with an ``event`` field and a ``Signature`` header:
``base64(hex(HMAC-SHA1(secret, fields concatenated)))``. Start/answer events are stored
only; ``NOTIFY_END`` (inbound) and ``NOTIFY_OUT_END`` (outbound) make the call, keyed by
``pbx_call_id``; ``NOTIFY_RECORD`` names the recording of a call.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers import base
from funnelwatch.telephony.providers.csvfile import parse_stamp

PROVIDER = "zadarma"

SIGNED_FIELDS = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}
DISPOSITIONS = {
    "answered": base.ANSWERED,
    "busy": base.BUSY,
    "cancel": base.CANCELLED,
    "no answer": base.NO_ANSWER,
    "failed": base.FAILED,
    "no money": base.FAILED,
    "unallocated number": base.FAILED,
    "no limit": base.FAILED,
    "no day limit": base.FAILED,
    "line limit": base.FAILED,
    "no money, no limit": base.FAILED,
}


def signature(secret: str, params: Mapping[str, str]) -> str:
    event = params.get("event", "")
    fields = SIGNED_FIELDS.get(event)
    if fields is None:
        raise base.ParseError(f"unknown event {event!r}", "event")
    data = "".join(params.get(f, "") for f in fields)
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def verify(secret: str, params: Mapping[str, str], given: str) -> bool:
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(secret, params), given)


def event_key(params: Mapping[str, str]) -> str:
    return (
        f"{params.get('event', '')}:{params.get('pbx_call_id', '')}:"
        f"{params.get('call_id_with_rec', '')}"
    )


def _need(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise base.ParseError("is missing", name)
    return value


def parse_end(params: Mapping[str, str], tz: ZoneInfo) -> base.CallRecord:
    event = params.get("event")
    pbx_id = _need(params, "pbx_call_id")
    start = parse_stamp(_need(params, "call_start"), tz, "call_start", required=True)
    try:
        duration = int(params.get("duration") or 0)
    except ValueError:  # not a number, or thousands of digits
        raise base.ParseError(
            f"{params.get('duration')[:40]!r} is not a whole number", "duration"
        ) from None
    base.check_seconds(duration, "duration")
    disp = (params.get("disposition") or "").strip().lower()
    outcome = DISPOSITIONS.get(disp)
    if outcome is None:
        raise base.ParseError(f"unknown disposition {disp!r}", "disposition")
    if outcome == base.ANSWERED and duration <= 0:
        outcome = base.NO_ANSWER
    internal = (params.get("internal") or "").strip()
    answered = outcome == base.ANSWERED and bool(internal or event == "NOTIFY_OUT_END")
    if event == "NOTIFY_END":
        direction, src, dst = "in", _need(params, "caller_id"), params.get("called_did", "")
    else:
        direction, src, dst = (
            "out",
            internal or params.get("caller_id", ""),
            _need(params, "destination"),
        )
    ended = start + dt.timedelta(seconds=duration)
    leg = base.LegRecord(
        leg_id=pbx_id,
        channel=src,
        dstchannel=internal or dst,
        disposition=disp,
        billsec=duration if answered else 0,
        answered=answered,
        outcome=outcome if (answered or outcome != base.ANSWERED) else base.NO_ANSWER,
        extension=internal,
        started_at=start,
        answered_at=start if answered else None,
        ended_at=ended,
        duration_s=duration,
        src=src,
        dst=dst,
        hangup_cause=params.get("status_code", ""),
        raw=dict(params),
    )
    rec = base.combine(PROVIDER, pbx_id, [leg], direction=direction, extension=internal)
    rec.raw = dict(params)
    return rec
