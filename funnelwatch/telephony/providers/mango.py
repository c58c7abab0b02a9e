"""Mango Office VPBX events (INTEGRATIONS.md §5.1).

Form fields ``vpbx_api_key``, ``sign``, ``json`` with ``sign = sha256(key + json + salt)``.
``events/call`` describes leg states (``call_id``) of one call (``entry_id``);
``events/summary`` ends the call and makes it; ``events/recording`` and
``events/record/added`` name its recording.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from funnelwatch.telephony.providers import base

PROVIDER = "mango"
DIRECTIONS = {0: "internal", 1: "in", 2: "out"}


def sign(api_key: str, body: str, salt: str) -> str:
    return hashlib.sha256((api_key + body + salt).encode()).hexdigest()


def verify(api_key: str, salt: str, form: Mapping[str, str]) -> bool:
    if not api_key or not salt:
        return False
    if not hmac.compare_digest(form.get("vpbx_api_key", ""), api_key):
        return False
    return hmac.compare_digest(sign(api_key, form.get("json", ""), salt), form.get("sign", ""))


def payload(form: Mapping[str, str]) -> dict:
    try:
        data = json.loads(form.get("json") or "")
    except json.JSONDecodeError as exc:
        raise base.ParseError(f"is not JSON ({exc.msg})", "json") from None
    if not isinstance(data, dict):
        raise base.ParseError("is not a JSON object", "json")
    return data


def _need(data: dict, name: str) -> object:
    value = data.get(name)
    if value in (None, ""):
        raise base.ParseError("is missing", name)
    return value


def _epoch(data: dict, name: str, required: bool = False) -> dt.datetime | None:
    value = data.get(name)
    if value in (None, "", 0, "0"):
        if required:
            raise base.ParseError("is missing", name)
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        raise base.ParseError(f"{value!r} is not a Unix time", name) from None


def call_event_key(data: dict) -> str:
    return f"call:{_need(data, 'entry_id')}:{_need(data, 'call_id')}:{data.get('seq', '')}"


def leg_from_call_events(events: list[dict]) -> base.LegRecord:
    """One leg from the state events of one ``call_id`` (in ``seq`` order)."""
    events = sorted(events, key=lambda e: int(e.get("seq") or 0))
    first, last = events[0], events[-1]
    connected = [e for e in events if e.get("call_state") == "Connected"]
    to = first.get("to") or {}
    frm = first.get("from") or {}
    # A person answered: the leg reached an employee (location "abonent"), not the IVR/queue.
    answered = any(e.get("location") == "abonent" for e in connected)
    start = _epoch(first, "timestamp", required=True)
    answer = _epoch(connected[0], "timestamp") if connected else None
    end = _epoch(last, "timestamp") if last.get("call_state") == "Disconnected" else None
    billsec = int((end - answer).total_seconds()) if (answer and end) else 0
    answered = answered and billsec > 0
    return base.LegRecord(
        leg_id=str(first.get("call_id")),
        channel=str(frm.get("extension") or frm.get("number") or ""),
        dstchannel=str(to.get("extension") or to.get("number") or ""),
        disposition=str(last.get("call_state") or ""),
        billsec=billsec,
        answered=answered,
        outcome=base.ANSWERED if answered else base.NO_ANSWER,
        extension=str(to.get("extension") or frm.get("extension") or ""),
        started_at=start,
        answered_at=answer,
        ended_at=end,
        duration_s=int((end - start).total_seconds()) if end else 0,
        src=str(frm.get("number") or frm.get("extension") or ""),
        dst=str(to.get("number") or to.get("extension") or ""),
        hangup_cause=str(last.get("disconnect_reason") or ""),
        raw={"events": events},
    )


def parse_summary(data: dict, legs: list[base.LegRecord]) -> base.CallRecord:
    entry = str(_need(data, "entry_id"))
    try:
        direction = DIRECTIONS[int(data.get("call_direction"))]
    except (TypeError, ValueError, KeyError):
        raise base.ParseError(
            f"unknown direction {data.get('call_direction')!r}", "call_direction"
        ) from None
    created = _epoch(data, "create_time", required=True)
    talk = _epoch(data, "talk_time")
    end = _epoch(data, "end_time")
    if end is not None and end < created:
        raise base.ParseError("ends before it starts", "end_time")
    frm, to = data.get("from") or {}, data.get("to") or {}
    for name, value in (("from", frm), ("to", to)):
        if not isinstance(value, dict):
            raise base.ParseError("is not an object", name)
    result = str(data.get("entry_result", ""))
    if result not in ("0", "1"):
        raise base.ParseError(f"unknown result {result!r}", "entry_result")
    talk_s = int((end - talk).total_seconds()) if (talk and end) else 0
    answered = result == "1" and talk_s > 0
    if direction == "in":
        src = str(frm.get("number") or "")
        dst = str(data.get("line_number") or to.get("number") or "")
        ext = str(to.get("extension") or "")
    else:
        src = str(frm.get("extension") or frm.get("number") or "")
        dst = str(to.get("number") or to.get("extension") or "")
        ext = str(frm.get("extension") or "")
    if not legs:
        legs = [
            base.LegRecord(
                leg_id=f"summary:{entry}",
                channel=src,
                dstchannel=ext or dst,
                disposition=result,
                billsec=talk_s,
                answered=answered,
                outcome=base.ANSWERED if answered else base.NO_ANSWER,
                extension=ext,
                started_at=created,
                answered_at=talk,
                ended_at=end,
                duration_s=int((end - created).total_seconds()) if end else 0,
                src=src,
                dst=dst,
                hangup_cause=str(data.get("disconnect_reason") or ""),
                raw=data,
            )
        ]
    rec = base.combine(PROVIDER, entry, legs)
    # The summary is the call's own verdict on its outcome and times.
    rec.direction, rec.from_raw, rec.to_raw, rec.extension = direction, src, dst, ext
    rec.started_at, rec.ended_at = created, end
    rec.duration_s = int((end - created).total_seconds()) if end else rec.duration_s
    if answered:
        rec.outcome, rec.talk_seconds, rec.answered_at = base.ANSWERED, talk_s, talk
        if not any(leg.answered for leg in legs):
            legs[0].answered, legs[0].billsec = True, talk_s
    else:
        rec.outcome, rec.talk_seconds, rec.answered_at = base.NO_ANSWER, 0, None
    rec.hangup_cause = str(data.get("disconnect_reason") or "")
    rec.raw = {"summary": data}
    return rec
