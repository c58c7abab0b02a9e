"""Asterisk CDR files: ``cdr_csv`` Master.csv (16/17/18/19/21 columns) and the default
``cdr_custom`` layout (INTEGRATIONS.md §1.1).

Legs (one CDR row each) are grouped into calls by ``linkedid`` when the file has it,
else by ``uniqueid``; without either (16 columns) every row is its own call, keyed by a
hash of the row.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers import base
from funnelwatch.telephony.providers.csvfile import parse_int, parse_stamp

PROVIDER = "asterisk"

_BASE = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
]
CSV_LAYOUTS: dict[int, list[str]] = {
    16: _BASE,
    17: [*_BASE, "uniqueid"],
    18: [*_BASE, "uniqueid", "userfield"],
    19: [*_BASE, "peeraccount", "linkedid", "sequence"],
    21: [*_BASE, "uniqueid", "userfield", "peeraccount", "linkedid", "sequence"],
}
CUSTOM_LAYOUT = [
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "sequence",
]
CUSTOM_LAYOUTS = {len(CUSTOM_LAYOUT): CUSTOM_LAYOUT}

DISPOSITIONS = {
    "ANSWERED": base.ANSWERED,
    "NO ANSWER": base.NO_ANSWER,
    "NOANSWER": base.NO_ANSWER,
    "BUSY": base.BUSY,
    "FAILED": base.FAILED,
    "CONGESTION": base.FAILED,
    "UNKNOWN": base.FAILED,
    # CDR(disposition,u)
    "1": base.NO_ANSWER,
    "2": base.BUSY,
    "3": base.FAILED,
    "4": base.ANSWERED,
}


def layouts_for(fmt: str) -> dict[int, list[str]]:
    return CUSTOM_LAYOUTS if fmt == "asterisk-custom" else CSV_LAYOUTS


def parse_row(
    row: list[str], line: int, layouts: dict[int, list[str]], tz: ZoneInfo
) -> tuple[base.LegRecord, str]:
    """One CDR row → (leg, correlation key). Raises ParseError naming the column."""
    names = layouts.get(len(row))
    if names is None:
        expected = ", ".join(str(n) for n in sorted(layouts))
        raise base.ParseError(f"expected {expected} columns, got {len(row)}", "columns")
    rec = dict(zip(names, row, strict=True))
    start = parse_stamp(rec["start"], tz, "start", required=True)
    answer = parse_stamp(rec["answer"], tz, "answer")
    end = parse_stamp(rec["end"], tz, "end")
    if end is not None and end < start:
        raise base.ParseError(f"ends ({rec['end']}) before it starts ({rec['start']})", "end")
    if answer is not None and (answer < start or (end is not None and answer > end)):
        raise base.ParseError(f"answer time {rec['answer']} is outside the call", "answer")
    duration = parse_int(rec["duration"], "duration")
    billsec = parse_int(rec["billsec"], "billsec")
    if billsec > duration:
        raise base.ParseError(f"billsec {billsec} exceeds duration {duration}", "billsec")
    disp = rec["disposition"].strip().upper()
    outcome = DISPOSITIONS.get(disp)
    if outcome is None:
        raise base.ParseError(f"unknown disposition {rec['disposition']!r}", "disposition")
    if outcome == base.ANSWERED and billsec <= 0:
        outcome = base.NO_ANSWER
    answered = outcome == base.ANSWERED and base.is_real_endpoint(rec["dstchannel"], rec["lastapp"])
    leg_id = rec.get("uniqueid") or ""
    if not leg_id:
        leg_id = hashlib.sha1("\x1f".join(row).encode(), usedforsecurity=False).hexdigest()[:24]
    if "sequence" in rec and rec.get("uniqueid"):
        leg_id = f"{leg_id}#{rec['sequence']}"
    key = rec.get("linkedid") or rec.get("uniqueid") or leg_id
    leg = base.LegRecord(
        leg_id=leg_id,
        channel=rec["channel"],
        dstchannel=rec["dstchannel"],
        disposition=disp,
        billsec=billsec,
        answered=answered,
        outcome=outcome if (answered or outcome != base.ANSWERED) else base.NO_ANSWER,
        started_at=start,
        answered_at=answer,
        ended_at=end,
        duration_s=duration,
        src=rec["src"],
        dst=rec["dst"],
        hangup_cause=disp,
        line=line,
        raw=row,
    )
    return leg, key


def to_call(key: str, legs: list[base.LegRecord]) -> base.CallRecord:
    return base.combine(PROVIDER, key, legs)
