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
# What a sound CDR field holds (a line with a NUL character is rejected as damaged).
field_text = text.filter(lambda t: "\x00" not in t)
# Within the accepted range in any zone (base.time_bounds: 2000 to a day from now).
stamps = st.datetimes(
    min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime.now() - dt.timedelta(days=2)
).map(lambda d: d.replace(microsecond=0))


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
        "accountcode": draw(field_text),
        "src": draw(field_text),
        "dst": draw(field_text),
        "dcontext": draw(field_text),
        "clid": draw(field_text),
        "channel": draw(field_text),
        "dstchannel": draw(field_text),
        "lastapp": draw(field_text),
        "lastdata": draw(field_text),
        "start": start.isoformat(" "),
        "answer": ans,
        "end": end.isoformat(" "),
        "duration": str(dur),
        "billsec": str(bill),
        "disposition": disp,
        "amaflags": "DOCUMENTATION",
        "uniqueid": draw(field_text),
        "userfield": draw(field_text),
        "peeraccount": draw(field_text),
        "linkedid": draw(field_text),
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


ZONES = [ZoneInfo(z) for z in ("Asia/Ulaanbaatar", "America/New_York", "Australia/Lord_Howe")]
near_dst = st.datetimes(
    min_value=dt.datetime(2025, 3, 8), max_value=dt.datetime(2025, 4, 8)
) | st.datetimes(min_value=dt.datetime(2025, 10, 4), max_value=dt.datetime(2025, 11, 3))


@st.composite
def stamp_texts(draw):
    """Texts of times close together (sharing minutes and hours, around zone changes),
    in the usual and other spellings, and junk."""
    start = draw(stamps | near_dst)
    out = []
    for offset in draw(st.lists(st.integers(0, 7200), max_size=8)):
        moment = start + dt.timedelta(seconds=offset)
        out.append(
            draw(
                st.sampled_from(
                    [
                        moment.isoformat(" ", timespec="seconds"),
                        moment.isoformat("T", timespec="seconds"),
                        moment.strftime("%Y/%m/%d %H:%M"),
                        moment.isoformat(" ", timespec="seconds")[:17] + "60",
                        f" {moment.isoformat(' ', timespec='seconds')}",
                    ]
                )
            )
        )
    return out + draw(st.lists(text, max_size=2))


@settings(max_examples=400, deadline=None)
@given(stamp_texts(), st.sampled_from(ZONES))
def test_stamp_reader_reads_what_parse_stamp_reads(texts, tz):
    """The batch reader's minute shortcut gives the same time (or the same error) as
    reading each text on its own, across zone changes (Lord Howe moves by 30 minutes)."""
    from funnelwatch.telephony.providers.csvfile import _any_stamp, parse_stamp, stamp_reader

    read = stamp_reader(tz)
    for t in texts * 2:  # again: from the reader's cache
        try:
            expected = parse_stamp(t, tz, "start")
        except base.ParseError as exc:
            expected = str(exc)
        try:
            got = read(t, "start")
        except base.ParseError as exc:
            got = str(exc)
        assert got == expected
        if isinstance(got, dt.datetime):
            assert got == _any_stamp(t.strip(), tz) and got.tzinfo is dt.UTC


@settings(max_examples=100, deadline=None)
@given(st.lists(cdr_rows().map(lambda r: r[0]) | st.lists(text, max_size=22), max_size=12))
def test_a_batch_parses_as_its_rows_one_by_one(rows_):
    """parse_rows (one loop, shared time cache) = parse_row on each row alone."""
    numbered = list(enumerate(rows_, start=7))
    legs, keys, errors = asterisk.parse_rows(numbered, asterisk.CSV_LAYOUTS, TZ)
    one_by_one, failed = [], []
    for line, row in numbered:
        try:
            one_by_one.append(asterisk.parse_row(row, line, asterisk.CSV_LAYOUTS, TZ))
        except base.ParseError as exc:
            failed.append((line, str(exc), exc.field))
    assert list(zip(legs, keys, strict=True)) == one_by_one
    assert [(line, str(exc), exc.field) for line, exc in errors] == failed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 6))
def test_reading_in_chunks_changes_nothing(data, size):
    """Lines read a few at a time: same line numbers, fields and errors (a malformed line
    at a chunk's edge included) as one chunk for everything."""
    from funnelwatch.telephony.providers.csvfile import batches

    lines = data.split(b"\n")
    whole = [r for b in batches(lines, 3, size=10_000) for r in b]
    assert [r for b in batches(lines, 3, size=size) for r in b] == whole
    assert list(rows(lines, 3)) == whole
