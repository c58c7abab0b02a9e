"""Mango Office VPBX events (docs/telephony.md).

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


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def payload(form: Mapping[str, str]) -> dict:
    try:
        data = json.loads(form.get("json") or "", parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise base.ParseError(f"is not JSON ({exc.msg})", "json") from None
    except (ValueError, RecursionError) as exc:  # NaN, a number of thousands of digits
        raise base.ParseError(f"is not JSON we can read ({str(exc)[:80]})", "json") from None
    if not isinstance(data, dict):
        raise base.ParseError("is not a JSON object", "json")
    base.check_payload(data)
    return data


def _need(data: dict, name: str) -> object:
    value = data.get(name)
    if value in (None, ""):
        raise base.ParseError("is missing", name)
    return value


def _ident(data: dict, name: str) -> str:
    """An id (text or a whole number) that keys calls and legs."""
    value = _need(data, name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise base.ParseError(f"{repr(value)[:60]} is not an id (text or a whole number)", name)
    text = str(value)
    if len(text) > 120:
        raise base.ParseError("is longer than 120 characters", name)
    return text


def _epoch(
    data: dict,
    name: str,
    required: bool = False,
    bounds: tuple[dt.datetime, dt.datetime] | None = None,
) -> dt.datetime | None:
    """A Unix time in UTC within the accepted range (``base.time_bounds``)."""
    value = data.get(name)
    if value in (None, "", 0, "0"):
        if required:
            raise base.ParseError("is missing", name)
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        stamp = dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise base.ParseError(f"{str(value)[:40]!r} is not a Unix time", name) from None
    return base.check_time(stamp, name, bounds)


def _seq(event: dict) -> int:
    value = event.get("seq")
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise base.ParseError(f"{repr(value)[:60]} is not a whole number", "seq")
    try:
        seq = int(value)
    except ValueError:
        raise base.ParseError(f"{value[:40]!r} is not a whole number", "seq") from None
    if seq < 0:
        raise base.ParseError("is negative", "seq")
    return seq


def check_call_event(data: dict) -> None:
    """ParseError naming the field when an ``events/call`` body cannot make a leg: it is
    then refused rather than stored, where it would spoil the call it belongs to."""
    _ident(data, "entry_id")
    _ident(data, "call_id")
    _seq(data)
    _epoch(data, "timestamp", required=True)
    for name in ("from", "to"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise base.ParseError("is not an object", name)
    if not isinstance(data.get("call_state", ""), str):
        raise base.ParseError("is not text", "call_state")


def call_event_key(data: dict) -> str:
    return f"call:{_ident(data, 'entry_id')}:{_ident(data, 'call_id')}:{data.get('seq', '')}"


def leg_from_call_events(events: list[dict]) -> base.LegRecord:
    """One leg from the state events of one ``call_id`` (in ``seq`` order; each passed
    :func:`check_call_event`). Times that contradict each other (events out of order)
    give 0 seconds, never a negative count."""
    events = sorted(events, key=_seq)
    first, last = events[0], events[-1]
    connected = [e for e in events if e.get("call_state") == "Connected"]
    to = first.get("to") or {}
    frm = first.get("from") or {}
    # A person answered: the leg reached an employee (location "abonent"), not the IVR/queue.
    answered = any(e.get("location") == "abonent" for e in connected)
    start = _epoch(first, "timestamp", required=True)
    answer = _epoch(connected[0], "timestamp") if connected else None
    end = _epoch(last, "timestamp") if last.get("call_state") == "Disconnected" else None
    billsec = _span(answer, end)
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
        duration_s=_span(start, end),
        src=str(frm.get("number") or frm.get("extension") or ""),
        dst=str(to.get("number") or to.get("extension") or ""),
        hangup_cause=str(last.get("disconnect_reason") or ""),
        raw={"events": events},
    )


def _span(since: dt.datetime | None, until: dt.datetime | None) -> int:
    """Whole seconds between two event times, 0 to 24 hours."""
    if since is None or until is None:
        return 0
    return min(max(int((until - since).total_seconds()), 0), base.MAX_SECONDS)


def parse_summary(data: dict, legs: list[base.LegRecord]) -> base.CallRecord:
    entry = _ident(data, "entry_id")
    try:
        direction = DIRECTIONS[int(data.get("call_direction"))]
    except (TypeError, ValueError, KeyError, OverflowError):
        raise base.ParseError(
            f"unknown direction {str(data.get('call_direction'))[:40]!r}", "call_direction"
        ) from None
    bounds = base.time_bounds()
    created = _epoch(data, "create_time", required=True, bounds=bounds)
    talk = _epoch(data, "talk_time", bounds=bounds)
    end = _epoch(data, "end_time", bounds=bounds)
    if end is not None and end < created:
        raise base.ParseError("ends before it starts", "end_time")
    if end is not None and (end - created).total_seconds() > base.MAX_SECONDS:
        raise base.ParseError("the call lasts more than 24 hours", "end_time")
    if talk is not None and (talk < created or (end is not None and talk > end)):
        raise base.ParseError("is outside the call", "talk_time")
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
