"""Property tests: parsers either read a record or name the field at fault; never crash."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from funnelwatch.telephony.providers import asterisk, base, freeswitch, mango, twilio, zadarma
from funnelwatch.telephony.providers.csvfile import rows

TZ = ZoneInfo("Asia/Ulaanbaatar")
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)
stamps = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2035, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


@st.composite
def cdr_rows(draw):
    start = draw(stamps)
    dur = draw(st.integers(0, 5000))
    bill = draw(st.integers(0, dur))
    answered = bill > 0 and draw(st.booleans())
    disp = (
        "ANSWERED"
        if answered
        else draw(st.sampled_from(["NO ANSWER", "BUSY", "FAILED", "CONGESTION"]))
    )
    end = start + dt.timedelta(seconds=dur)
    ans = (end - dt.timedelta(seconds=bill)).isoformat(" ") if answered else ""
    fields = {
        "accountcode": draw(text),
        "src": draw(text),
        "dst": draw(text),
        "dcontext": draw(text),
        "clid": draw(text),
        "channel": draw(text),
        "dstchannel": draw(text),
        "lastapp": draw(text),
        "lastdata": draw(text),
        "start": start.isoformat(" "),
        "answer": ans,
        "end": end.isoformat(" "),
        "duration": str(dur),
        "billsec": str(bill),
        "disposition": disp,
        "amaflags": "DOCUMENTATION",
        "uniqueid": draw(text),
        "userfield": draw(text),
        "peeraccount": draw(text),
        "linkedid": draw(text),
        "sequence": str(draw(st.integers(0, 99))),
    }
    n = draw(st.sampled_from(sorted(asterisk.CSV_LAYOUTS)))
    return [fields[k] for k in asterisk.CSV_LAYOUTS[n]], fields


def _line(values: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(values)
    return buf.getvalue().encode()


@settings(max_examples=200, deadline=None)
@given(cdr_rows())
def test_valid_cdr_rows_round_trip(row_fields):
    values, fields = row_fields
    [(line, parsed)] = list(rows([_line(values)]))
    assert parsed == values
    leg, key = asterisk.parse_row(parsed, line, asterisk.CSV_LAYOUTS, TZ)
    assert leg.billsec == int(fields["billsec"]) and leg.duration_s == int(fields["duration"])
    assert leg.answered <= (fields["disposition"] == "ANSWERED")
    assert key
    call = base.combine("asterisk", key, [leg])
    assert call.talk_seconds <= call.duration_s


@settings(max_examples=300, deadline=None)
@given(st.lists(text, min_size=0, max_size=25))
def test_arbitrary_rows_parse_or_name_a_field(values):
    try:
        leg, _key = asterisk.parse_row(values, 1, asterisk.CSV_LAYOUTS, TZ)
    except base.ParseError as exc:
        assert exc.field
    else:
        assert leg.started_at.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_never_stop_the_reader(data):
    for _line_no, parsed in rows(data.split(b"\n")):
        assert isinstance(parsed, list | str)


@settings(max_examples=200, deadline=None)
@given(st.lists(text, min_size=13, max_size=15))
def test_freeswitch_rows_parse_or_name_a_field(values):
    try:
        freeswitch.parse_row(values, 1, TZ)
    except base.ParseError as exc:
        assert exc.field


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "CallSid",
                "CallStatus",
                "Direction",
                "From",
                "To",
                "CallDuration",
                "Timestamp",
                "ParentCallSid",
            ]
        ),
        text,
    )
)
def test_twilio_params_parse_or_name_a_field(params):
    try:
        twilio.parse_status(params, dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    except base.ParseError as exc:
        assert exc.field


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "event",
                "pbx_call_id",
                "call_start",
                "caller_id",
                "called_did",
                "internal",
                "duration",
                "disposition",
                "destination",
            ]
        ),
        text,
    )
)
def test_zadarma_params_parse_or_name_a_field(params):
    params = {"event": "NOTIFY_END"} | params if "event" not in params else params
    try:
        zadarma.parse_end(params, TZ)
    except base.ParseError as exc:
        assert exc.field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "entry_id",
                "call_direction",
                "from",
                "to",
                "create_time",
                "talk_time",
                "end_time",
                "entry_result",
                "line_number",
            ]
        ),
        json_values,
    )
)
def test_mango_summary_parse_or_name_a_field(data):
    try:
        mango.parse_summary(data, [])
    except base.ParseError as exc:
        assert exc.field
