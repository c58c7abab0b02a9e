"""Asterisk CDR files: ``cdr_csv`` Master.csv (16/17/18/19/21 columns) and the default
``cdr_custom`` layout (docs/telephony.md).

Legs (one CDR row each) are grouped into calls by ``linkedid`` when the file has it,
else by ``uniqueid``; without either (16 columns) every row is its own call, keyed by a
hash of the row.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers import base
from funnelwatch.telephony.providers.csvfile import parse_seconds, stamp_reader

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


_NEEDED = (
    "src",
    "dst",
    "channel",
    "dstchannel",
    "lastapp",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "linkedid",
    "sequence",
)
_INDEXES: dict[int, tuple[int | None, ...]] = {}


def _indexes(names: list[str]) -> tuple[int | None, ...]:
    key = id(names)
    if key not in _INDEXES:
        _INDEXES[key] = tuple(names.index(n) if n in names else None for n in _NEEDED)
    return _INDEXES[key]


def parse_row(
    row: list[str], line: int, layouts: dict[int, list[str]], tz: ZoneInfo
) -> tuple[base.LegRecord, str]:
    """One CDR row → (leg, correlation key). Raises ParseError naming the column."""
    legs, keys, errors = parse_rows([(line, row)], layouts, tz)
    if errors:
        raise errors[0][1]
    return legs[0], keys[0]


def parse_rows(
    rows: list[tuple[int, list[str]]], layouts: dict[int, list[str]], tz: ZoneInfo
) -> tuple[list[base.LegRecord], list[str], list[tuple[int, base.ParseError]]]:
    """Many (line, row) → their legs and correlation keys, and (line, ParseError naming
    the column) for each row that cannot be read. One loop for the whole batch: a big
    file spends its time here."""
    legs: list[base.LegRecord] = []
    keys: list[str] = []
    errors: list[tuple[int, base.ParseError]] = []
    stamp = stamp_reader(tz)
    indexes = {n: _indexes(names) for n, names in layouts.items()}
    expected = ", ".join(str(n) for n in sorted(layouts))
    real_endpoint = base.is_real_endpoint
    new_leg = base.LegRecord
    answered_kind, no_answer = base.ANSWERED, base.NO_ANSWER
    for line, row in rows:
        try:
            idx = indexes.get(len(row))
            if idx is None:
                raise base.ParseError(f"expected {expected} columns, got {len(row)}", "columns")
            (
                i_src,
                i_dst,
                i_ch,
                i_dch,
                i_app,
                i_start,
                i_ans,
                i_end,
                i_dur,
                i_bill,
                i_disp,
                i_uid,
                i_lid,
                i_seq,
            ) = idx
            start = stamp(row[i_start], "start", True)
            answer = stamp(row[i_ans], "answer")
            end = stamp(row[i_end], "end")
            if end is not None and end < start:
                raise base.ParseError(
                    f"ends ({row[i_end]}) before it starts ({row[i_start]})", "end"
                )
            if answer is not None and (answer < start or (end is not None and answer > end)):
                raise base.ParseError(f"answer time {row[i_ans]} is outside the call", "answer")
            duration = parse_seconds(row[i_dur], "duration")
            billsec = parse_seconds(row[i_bill], "billsec")
            if billsec > duration:
                raise base.ParseError(f"billsec {billsec} exceeds duration {duration}", "billsec")
            disp = row[i_disp].strip().upper()
            outcome = DISPOSITIONS.get(disp)
            if outcome is None:
                raise base.ParseError(f"unknown disposition {row[i_disp]!r}", "disposition")
        except base.ParseError as exc:
            errors.append((line, exc))
            continue
        if outcome == answered_kind and billsec <= 0:
            outcome = no_answer
        dstchannel = row[i_dch]
        answered = outcome == answered_kind and real_endpoint(dstchannel, row[i_app])
        uid = row[i_uid] if i_uid is not None else ""
        leg_id = uid
        if not leg_id:
            leg_id = hashlib.sha1("\x1f".join(row).encode(), usedforsecurity=False).hexdigest()[:24]
        elif i_seq is not None:
            leg_id = f"{leg_id}#{row[i_seq]}"
        keys.append((row[i_lid] if i_lid is not None else "") or uid or leg_id)
        legs.append(
            new_leg(
                leg_id=leg_id,
                channel=row[i_ch],
                dstchannel=dstchannel,
                disposition=disp,
                billsec=billsec,
                answered=answered,
                outcome=outcome if (answered or outcome != answered_kind) else no_answer,
                started_at=start,
                answered_at=answer,
                ended_at=end,
                duration_s=duration,
                src=row[i_src],
                dst=row[i_dst],
                hangup_cause=disp,
                line=line,
                raw=row,
            )
        )
    return legs, keys, errors


def to_call(key: str, legs: list[base.LegRecord]) -> base.CallRecord:
    return base.combine(PROVIDER, key, legs)
