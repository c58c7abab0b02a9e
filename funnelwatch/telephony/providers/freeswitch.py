"""FreeSWITCH ``mod_cdr_csv`` with the default/example template (docs/telephony.md):
13 default fields, optionally followed by ``read_codec, write_codec``.

One row is one leg; the leg id is ``uuid``. An A-leg naming its B-leg in ``bleg_uuid``
makes both one call, keyed by the A-leg's uuid. Rows repeating a uuid already read are
the same leg written again: they are skipped and counted.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers import base
from funnelwatch.telephony.providers.csvfile import parse_seconds, parse_stamp

PROVIDER = "freeswitch"

_FIELDS = [
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
]
LAYOUTS = {13: _FIELDS, 15: [*_FIELDS, "read_codec", "write_codec"]}

CAUSES = {
    "NO_ANSWER": base.NO_ANSWER,
    "NO_USER_RESPONSE": base.NO_ANSWER,
    "ALLOTTED_TIMEOUT": base.NO_ANSWER,
    "ORIGINATOR_CANCEL": base.CANCELLED,
    "USER_BUSY": base.BUSY,
    "CALL_REJECTED": base.BUSY,
}


def parse_row(row: list[str], line: int, tz: ZoneInfo) -> tuple[base.LegRecord, str, str]:
    """One row → (leg, its uuid, the B-leg uuid it names or "")."""
    names = LAYOUTS.get(len(row))
    if names is None:
        raise base.ParseError(f"expected 13 or 15 columns, got {len(row)}", "columns")
    rec = dict(zip(names, row, strict=True))
    uuid = rec["uuid"].strip()
    if not uuid:
        raise base.ParseError("is empty", "uuid")
    start = parse_stamp(rec["start_stamp"], tz, "start_stamp", required=True)
    answer = parse_stamp(rec["answer_stamp"], tz, "answer_stamp")
    end = parse_stamp(rec["end_stamp"], tz, "end_stamp")
    if end is not None and end < start:
        raise base.ParseError(
            f"ends ({rec['end_stamp']}) before it starts ({rec['start_stamp']})", "end_stamp"
        )
    duration = parse_seconds(rec["duration"], "duration")
    billsec = parse_seconds(rec["billsec"], "billsec")
    cause = rec["hangup_cause"].strip().upper()
    if not cause.replace("_", "").isalnum():
        raise base.ParseError(f"unknown hang-up cause {rec['hangup_cause']!r}", "hangup_cause")
    if billsec > 0:
        outcome = base.ANSWERED
    else:
        outcome = CAUSES.get(cause, base.NO_ANSWER if cause == "NORMAL_CLEARING" else base.FAILED)
    leg = base.LegRecord(
        leg_id=uuid,
        disposition=cause,
        billsec=billsec,
        answered=outcome == base.ANSWERED,
        outcome=outcome,
        started_at=start,
        answered_at=answer,
        ended_at=end,
        duration_s=duration,
        src=rec["caller_id_number"],
        dst=rec["destination_number"],
        hangup_cause=cause,
        line=line,
        raw=row,
    )
    return leg, uuid, rec["bleg_uuid"].strip()


def to_call(key: str, legs: list[base.LegRecord]) -> base.CallRecord:
    return base.combine(PROVIDER, key, legs)
