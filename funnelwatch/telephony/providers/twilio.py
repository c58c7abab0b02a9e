"""Twilio Programmable Voice: status and recording callbacks (docs/telephony.md).

Each status callback describes one leg (``CallSid``); legs of one call share the parent's
sid (``ParentCallSid``, else the leg's own). Only final statuses make a leg. An inbound
parent leg is answered by the Twilio application itself, so it never counts as answered
by a person: the dialled child leg (``outbound-dial``) does.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
from collections.abc import Mapping

from funnelwatch.telephony.providers import base

PROVIDER = "twilio"

FINAL = {
    "completed": base.ANSWERED,
    "busy": base.BUSY,
    "no-answer": base.NO_ANSWER,
    "canceled": base.CANCELLED,
    "failed": base.FAILED,
}
PROGRESS = {"queued", "initiated", "ringing", "in-progress"}
DIRECTIONS = {"inbound": "in", "outbound-api": "out", "outbound-dial": "out"}


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by the sorted params."""
    data = url + "".join(k + params[k] for k in sorted(params))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def verify(auth_token: str, url: str, params: Mapping[str, str], given: str) -> bool:
    if not auth_token or not given:
        return False
    return hmac.compare_digest(signature(auth_token, url, params), given)


def _require(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise base.ParseError("is missing", name)
    return value


def _int(params: Mapping[str, str], name: str) -> int:
    try:
        value = int(params.get(name) or 0)
    except ValueError:  # not a number, or thousands of digits
        raise base.ParseError(f"{params.get(name)[:40]!r} is not a whole number", name) from None
    if value < 0:
        raise base.ParseError("is negative", name)
    return value


def _seconds(params: Mapping[str, str], name: str) -> int:
    """Whole seconds from 0 to 24 hours."""
    return base.check_seconds(_int(params, name), name)


def _when(params: Mapping[str, str], received_at: dt.datetime) -> dt.datetime:
    """When the status happened, in UTC, within the accepted range (``base.time_bounds``).
    An RFC 2822 date without a zone ("-0000") is UTC."""
    stamp = params.get("Timestamp")
    if not stamp:
        return base.check_time(received_at, "Timestamp")
    try:
        value = email.utils.parsedate_to_datetime(stamp)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise base.ParseError(f"{stamp[:60]!r} is not an RFC 2822 date", "Timestamp") from None
    return base.check_time(value, "Timestamp")


def _party(value: str) -> str:
    return value.split(":", 1)[1] if value.startswith(("client:", "sip:")) else value


def event_key(params: Mapping[str, str]) -> str:
    return (
        f"status:{_require(params, 'CallSid')}:{params.get('CallStatus', '')}:"
        f"{params.get('SequenceNumber', '')}"
    )


def parse_status(params: Mapping[str, str], received_at: dt.datetime) -> base.CallRecord | None:
    """A final status → a call record with one leg; a progress status → None."""
    sid = _require(params, "CallSid")
    status = _require(params, "CallStatus").lower()
    if status in PROGRESS:
        return None
    outcome = FINAL.get(status)
    if outcome is None:
        raise base.ParseError(f"unknown status {status!r}", "CallStatus")
    raw_direction = (params.get("Direction") or "").lower()
    direction = DIRECTIONS.get(raw_direction)
    if direction is None:
        raise base.ParseError(f"unknown direction {raw_direction!r}", "Direction")
    duration = _seconds(params, "CallDuration")
    if outcome == base.ANSWERED and duration <= 0:
        outcome = base.NO_ANSWER
    ended = _when(params, received_at)
    started = ended - dt.timedelta(seconds=duration)
    parent = (params.get("ParentCallSid") or "").strip()
    is_parent_inbound = raw_direction == "inbound"
    answered = outcome == base.ANSWERED and not is_parent_inbound
    from_raw, to_raw = params.get("From", ""), params.get("To", "")
    leg = base.LegRecord(
        leg_id=sid,
        channel=from_raw,
        dstchannel=to_raw,
        disposition=status,
        billsec=duration if answered else 0,
        answered=answered,
        outcome=outcome if (answered or outcome != base.ANSWERED) else base.NO_ANSWER,
        started_at=started,
        answered_at=started if answered else None,
        ended_at=ended,
        duration_s=duration,
        src=_party(from_raw),
        dst=_party(to_raw),
        hangup_cause=params.get("SipResponseCode", ""),
        raw=dict(params),
    )
    key = parent or sid
    rec = base.combine(PROVIDER, key, [leg])
    # A child leg alone still belongs to a call whose direction the parent sets.
    # A dialled child leg follows its parent: inbound when the caller is outside.
    rec.direction = "" if raw_direction == "outbound-dial" else direction
    rec.extension = _party(to_raw) if raw_direction != "outbound-api" else _party(from_raw)
    rec.raw = {"status": dict(params)}
    return rec


def parse_recording(params: Mapping[str, str]) -> tuple[str, str, float | None, int]:
    """(call key, recording URL, duration seconds, channels) of a recording callback."""
    sid = _require(params, "CallSid")
    url = _require(params, "RecordingUrl")
    status = (params.get("RecordingStatus") or "completed").lower()
    if status not in ("completed", "absent", "failed", "in-progress"):
        raise base.ParseError(f"unknown status {status!r}", "RecordingStatus")
    duration = (
        float(_seconds(params, "RecordingDuration")) if params.get("RecordingDuration") else None
    )
    channels = _int(params, "RecordingChannels") or 1
    return (params.get("ParentCallSid") or sid), url, duration, channels
