"""Property tests: CDR files and webhooks fed extreme numbers and dates (huge, negative,
not finite, year 1 and 9999, far zones, text where a number belongs, repeats, missing
fields). Never a traceback or a 500; a rejected row or event leaves nothing behind (no
call, leg, contact, lead or audit event); every good row is kept.

Every example runs in a transaction rolled back at its end, so examples do not see each
other's calls."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import Contact, ContactPhone
from funnelwatch.telephony import importer, webhooks
from funnelwatch.telephony.models import Call, CallLeg, WebhookEvent
from funnelwatch.telephony.providers import asterisk, base, generic, mango, twilio, zadarma

pytestmark = pytest.mark.django_db

DB_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rolled_back():
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# The accepted range, as docs/telephony.md states it.
MAX_SECONDS = 24 * 3600


def bounds() -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


ZONES = ["UTC", "Asia/Ulaanbaatar", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"]
NOW = dt.datetime.now()
# Local times that are inside the accepted range in every zone above.
good_moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 2), max_value=NOW - dt.timedelta(days=2)
).map(lambda d: d.replace(microsecond=0))
junk = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=12,
).filter(lambda t: t.strip() and not any(c.isdigit() for c in t))  # never a time or number
# Years no accepted call has (the accepted range is 2000 to a day from now).
bad_years = st.integers(1, 1998) | st.integers(NOW.year + 2, 9999)


@st.composite
def bad_stamp(draw, slashed: bool = False) -> str:
    """A time text that is no accepted call time: out of range (years 1..1998 and after
    next year, in several spellings and with far zone offsets) or not a time at all."""
    year = draw(bad_years)
    moment = dt.datetime(year, draw(st.integers(1, 12)), draw(st.integers(1, 28)), 23, 59, 59)
    spelled = draw(
        st.sampled_from(
            [
                f"{moment:%Y-%m-%d %H:%M:%S}".zfill(19),
                moment.isoformat("T"),
                moment.isoformat("T") + draw(st.sampled_from(["+14:00", "-12:00", "Z"])),
                f"{year:04d}/{moment.month}/{moment.day} 23:59",
            ]
        )
    )
    return draw(
        st.sampled_from([spelled, spelled, "0000-00-00 00:00:00", "2026-02-30 10:00:00", "nan"])
        | junk
    )


bad_seconds = st.one_of(
    st.integers(MAX_SECONDS + 1, 10**30).map(str),
    st.integers(-(10**30), -1).map(str),
    st.sampled_from(["NaN", "inf", "-inf", "1e20", "12.5", "0x10", "9" * 20, "9" * 5000]),
    junk,
)


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(values)
    return buf.getvalue()


# --- CDR files ------------------------------------------------------------------------


@st.composite
def asterisk_row(draw, i: int, layout: list[str], bad: bool) -> tuple[list[str], str]:
    """(row, the field made bad or "") for the row numbered ``i``."""
    start = draw(good_moments)
    duration = draw(st.integers(0, 5000))
    billsec = draw(st.integers(0, duration))
    end = start + dt.timedelta(seconds=duration)
    answered = billsec > 0 and draw(st.booleans())
    fields = dict.fromkeys(layout, "")
    fields |= {
        "src": f"9901{i:04d}" if not bad else f"9902{i:04d}",
        "dst": "700",
        "channel": "PJSIP/trunk-1",
        "dstchannel": "PJSIP/101-1",
        "lastapp": "Dial",
        "start": start.isoformat(" "),
        "answer": (end - dt.timedelta(seconds=billsec)).isoformat(" ") if answered else "",
        "end": end.isoformat(" "),
        "duration": str(duration),
        "billsec": str(billsec),
        "disposition": "ANSWERED" if answered else "NO ANSWER",
        "amaflags": "DOCUMENTATION",
        "uniqueid": f"r{i}",
        "linkedid": f"r{i}",
        "sequence": "0",
    }
    broken = ""
    if bad:
        broken = draw(
            st.sampled_from(
                ["start", "end", "answer", "duration", "billsec", "disposition", "nul", "columns"]
            )
        )
        if broken in ("start", "end", "answer"):
            fields[broken] = draw(bad_stamp())
            if broken == "start" and not fields["start"].strip():
                fields["start"] = "0001-01-01 00:00:00"
        elif broken in ("duration", "billsec"):
            fields[broken] = draw(bad_seconds)
        elif broken == "disposition":
            fields["disposition"] = draw(junk.filter(lambda t: t.strip().upper() not in
                                                     asterisk.DISPOSITIONS))  # fmt: skip
        elif broken == "nul":
            fields["dcontext"] = "a\x00b"
    row = [fields[name] for name in layout]
    if broken == "columns":
        known = set(asterisk.CSV_LAYOUTS) | set(asterisk.CUSTOM_LAYOUTS)
        row = row[: draw(st.sampled_from([n for n in range(1, len(row)) if n not in known]))]
    return row, broken


@st.composite
def freeswitch_row(draw, i: int, bad: bool) -> tuple[list[str], str]:
    start = draw(good_moments)
    duration = draw(st.integers(0, 5000))
    billsec = draw(st.integers(0, duration))
    end = start + dt.timedelta(seconds=duration)
    stamp = "%Y-%m-%d %H:%M:%S"
    fields = {
        "caller_id_name": "Client",
        "caller_id_number": f"9901{i:04d}" if not bad else f"9902{i:04d}",
        "destination_number": "700",
        "context": "default",
        "start_stamp": start.strftime(stamp),
        "answer_stamp": (end - dt.timedelta(seconds=billsec)).strftime(stamp) if billsec else "",
        "end_stamp": end.strftime(stamp),
        "duration": str(duration),
        "billsec": str(billsec),
        "hangup_cause": "NORMAL_CLEARING",
        "uuid": f"u{i}",
        "bleg_uuid": "",
        "accountcode": "",
    }
    broken = ""
    if bad:
        broken = draw(
            st.sampled_from(
                ["start_stamp", "end_stamp", "answer_stamp", "duration", "billsec", "uuid", "nul"]
                + ["columns", "hangup_cause", "end_before_start"]
            )
        )
        if broken in ("start_stamp", "end_stamp", "answer_stamp"):
            fields[broken] = draw(bad_stamp())
            if broken == "start_stamp" and not fields[broken].strip():
                fields[broken] = "9999/12/31 23:59"
        elif broken in ("duration", "billsec"):
            fields[broken] = draw(bad_seconds)
        elif broken == "uuid":
            fields["uuid"] = " "
        elif broken == "nul":
            fields["context"] = "a\x00b"
        elif broken == "hangup_cause":
            fields["hangup_cause"] = "NOT A CAUSE!"
        elif broken == "end_before_start":
            fields["end_stamp"] = (start - dt.timedelta(hours=1)).strftime(stamp)
    row = list(fields.values())
    if broken == "columns":
        row = row[: draw(st.integers(1, 12))]
    return row, broken


@st.composite
def cdr_file(draw, fmt: str) -> tuple[list[str], list[int], dict[int, str], list[str]]:
    """(lines, lines that must be rejected, line → key of the good rows, the good keys
    in the order first seen); some good lines are repeated."""
    count = draw(st.integers(1, 12))
    layout = (
        asterisk.CUSTOM_LAYOUT
        if fmt == "asterisk-custom"
        else asterisk.CSV_LAYOUTS[draw(st.sampled_from([17, 18, 21]))]
    )
    lines: list[str] = []
    bad_lines: list[int] = []
    good: dict[int, str] = {}
    for i in range(count):
        bad = draw(st.booleans())
        if fmt == "freeswitch-csv":
            row, broken = draw(freeswitch_row(i, bad))
        else:
            row, broken = draw(asterisk_row(i, layout, bad))
        lines.append(_csv_line(row))
        if broken:
            bad_lines.append(len(lines))
        else:
            good[len(lines)] = f"u{i}" if fmt == "freeswitch-csv" else f"r{i}"
        if not broken and draw(st.booleans()):
            lines.append(lines[-1])  # the same row again: a repeat, stored once
            good[len(lines)] = good[len(lines) - 1]
    keys = list(dict.fromkeys(good.values()))
    return lines, bad_lines, good, keys


def _check_import(fmt: str, data, tz_name: str, tmp_path) -> None:
    lines, bad_lines, good, keys = data
    path = tmp_path / "cdr.csv"
    path.write_text("\n".join(lines) + "\n")
    with rolled_back():
        report = importer.import_file(path, fmt, tz=ZoneInfo(tz_name))
        assert [r.line for r in report.rejected] == bad_lines
        assert all(":" in r.reason for r in report.rejected)  # each names what is wrong
        assert report.rows_read == len(lines)
        assert report.calls_created == len(keys)
        assert report.duplicates_skipped == len(good) - len(keys)
        assert report.nothing_imported == (not good)
        calls = list(Call.objects.values_list("pk", "external_id", "started_at"))
        assert sorted(ext for _pk, ext, _at in calls) == sorted(keys)
        earliest, latest = bounds()
        assert all(earliest <= at <= latest for _pk, _ext, at in calls)
        assert CallLeg.objects.count() == len(keys)
        audited = AuditEvent.objects.filter(object_type="telephony.call")
        assert sorted(audited.values_list("object_id", flat=True)) == sorted(
            str(pk) for pk, _ext, _at in calls
        )
        # nothing of a rejected row: its caller is no contact (nor a lead)
        assert not ContactPhone.objects.filter(number__startswith="+9769902").exists()
        assert Contact.objects.count() == len(keys)


@pytest.mark.parametrize("fmt", importer.FORMATS)
def test_cdr_files_with_extreme_rows(world, settings, tmp_path, fmt):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = True

    @DB_SETTINGS
    @given(data=cdr_file(fmt), tz_name=st.sampled_from(ZONES))
    def run(data, tz_name):
        _check_import(fmt, data, tz_name, tmp_path)

    run()


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=40))
def test_any_zone_name_is_a_zone_or_a_clear_error(name):
    try:
        zone = importer.zone(name)
    except ValueError as exc:
        assert str(exc).startswith("--tz: unknown time zone")
    else:
        assert zone.key == name


# --- webhooks -------------------------------------------------------------------------

# JSON values where numbers and dates belong: huge, negative, not finite, floats, text.
extreme_numbers = st.one_of(
    st.integers(-(10**30), 10**30),
    st.sampled_from([0, 1, 86400, 86401, 2**31, 2**63, 10**20, 1e18, -1, 1.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    junk,
    st.integers(0, 10**12).map(str),
)
fixed_zones = st.sampled_from([dt.timezone(dt.timedelta(hours=h)) for h in (-12, -5, 0, 8, 14)])
extreme_times = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=fixed_zones
    ).map(dt.datetime.isoformat),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-12:00",
            "9999-12-31T23:59:59Z",
            "2026-03-02T10:00:00",  # no zone
            "2026-03-02T10:00:00+25:00",
            "1999-12-31T23:59:59Z",
        ]
    ),
    good_moments.map(lambda d: d.replace(tzinfo=dt.UTC).isoformat()),
    junk,
    st.integers(-(10**12), 10**12),
)
wild_text = st.one_of(
    st.text(max_size=8),  # lone surrogates and NUL included
    st.sampled_from(["a\x00b", "\ud800", "x" * 300]),
)


def _maybe(draw, base_value: dict, changes: dict) -> dict:
    """``base_value`` with some keys changed (drawn) and some removed."""
    body = dict(base_value)
    # (Hypothesis favours the first of the choices: the last one is the rare one.)
    for key, strategy in changes.items():
        if draw(st.sampled_from(range(4))) == 3:
            body[key] = draw(strategy)
    for key in list(body):
        if draw(st.sampled_from(range(25))) == 24:
            del body[key]
    return body


@st.composite
def generic_bodies(draw) -> dict:
    start = draw(good_moments).replace(tzinfo=dt.UTC)
    body = {
        "event_id": "ev",
        "call_id": "call",
        "direction": "in",
        "from": "+97699112233",
        "to": "700",
        "started_at": start.isoformat(),
        "ended_at": (start + dt.timedelta(seconds=60)).isoformat(),
        "talk_seconds": 50,
        "outcome": "answered",
        "legs": [{"leg_id": "a", "billsec": 50, "answered": True, "channel": "PJSIP/101-1"}],
    }
    leg = st.fixed_dictionaries(
        {"leg_id": st.sampled_from(["a", "b", ""]) | wild_text, "billsec": extreme_numbers}
    )
    return _maybe(
        draw,
        body,
        {
            "event_id": wild_text,
            "call_id": wild_text,
            "direction": st.sampled_from(["in", "out", "sideways"]),
            "from": wild_text,
            "started_at": extreme_times,
            "ended_at": extreme_times,
            "answered_at": extreme_times,
            "talk_seconds": extreme_numbers,
            "outcome": st.sampled_from(["answered", "busy", "maybe"]),
            "hangup_cause": wild_text,
            "legs": st.lists(leg, max_size=3),
        },
    )


def _stored() -> tuple[int, int, int, int, int]:
    return (
        WebhookEvent.objects.count(),
        Call.objects.count(),
        CallLeg.objects.count(),
        Contact.objects.count(),
        AuditEvent.objects.filter(source="integration").count(),
    )


def _calls_are_sane() -> None:
    earliest, latest = bounds()
    for started, talk, duration in Call.objects.values_list(
        "started_at", "talk_seconds", "duration_s"
    ):
        assert earliest - dt.timedelta(days=1) <= started <= latest
        assert 0 <= talk <= MAX_SECONDS and 0 <= duration


def _answered(response, before) -> None:
    """A clear answer: 200, or a 4xx naming what is wrong that stored nothing."""
    assert response.status_code in (200, 400, 422), response.content
    if response.status_code != 200:
        assert _stored() == before
        detail = response.json()["detail"]
        assert detail if isinstance(detail, str) else detail[0]["loc"]


def _drain(mode: str) -> None:
    """In queue mode every stored event is one that can be processed."""
    if mode == "queue":
        result = webhooks.process_pending()
        assert result["failed"] == 0
        assert not WebhookEvent.objects.exclude(error="").exclude(event_key__startswith="rec:")


@pytest.fixture
def hooks(settings):
    settings.FUNNELWATCH_TWILIO_AUTH_TOKEN = "tw-token"
    settings.FUNNELWATCH_ZADARMA_SECRET = "zd-secret"
    settings.FUNNELWATCH_MANGO_API_KEY = "mg-key"
    settings.FUNNELWATCH_MANGO_SALT = "mg-salt"
    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    return settings


def test_generic_webhook_with_extreme_values(client, world, hooks):
    @DB_SETTINGS
    @given(body=generic_bodies(), mode=st.sampled_from(["sync", "queue"]), repeat=st.booleans())
    def run(body, mode, repeat):
        hooks.FUNNELWATCH_WEBHOOK_MODE = mode
        raw = json.dumps(body).encode()  # NaN and Infinity written as such
        ts = str(int(time.time()))
        with rolled_back():
            for _ in range(2 if repeat else 1):
                before = _stored()
                r = client.post(
                    "/api/telephony/webhooks/calls",
                    raw,
                    content_type="application/json",
                    HTTP_X_FUNNELWATCH_TIMESTAMP=ts,
                    HTTP_X_FUNNELWATCH_SIGNATURE=generic.signature("our-secret", ts, raw),
                )
                _answered(r, before)
            _drain(mode)
            _calls_are_sane()

    run()


form_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=10
)
number_texts = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["99999999999", "86401", "nan", "1e20", "-0", "9" * 5000, ""]),
    form_text,
)


@st.composite
def rfc2822(draw) -> str:
    year = draw(st.integers(1, 9999))
    offset = draw(st.sampled_from(["+0000", "-0000", "+1400", "-1200", "+9999", "GMT", ""]))
    return f"Mon, 02 Mar {year:04d} 02:01:35 {offset}".strip()


def test_twilio_webhooks_with_extreme_values(client, world, hooks):
    @DB_SETTINGS
    @given(
        data=st.data(),
        mode=st.sampled_from(["sync", "queue"]),
        path=st.sampled_from(["status", "recording"]),
    )
    def run(data, mode, path):
        hooks.FUNNELWATCH_WEBHOOK_MODE = mode
        draw = data.draw
        params = {
            "CallSid": "CA1",
            "CallStatus": "completed",
            "Direction": "outbound-api",
            "From": "client:101",
            "To": "+97699112233",
            "CallDuration": "60",
            "RecordingSid": "RE1",
            "RecordingUrl": "https://api.twilio.com/r/RE1",
            "RecordingDuration": "60",
        }
        params = _maybe(
            draw,
            params,
            {
                "CallSid": form_text,
                "ParentCallSid": form_text,
                "CallStatus": st.sampled_from(["completed", "busy", "ringing", "weird"]),
                "Direction": st.sampled_from(["inbound", "outbound-dial", "up"]),
                "CallDuration": number_texts,
                "Timestamp": rfc2822() | form_text,
                "From": form_text,
                "RecordingDuration": number_texts,
                "RecordingChannels": number_texts,
            },
        )
        url = f"/api/telephony/webhooks/twilio/{path}"
        with rolled_back():
            for _ in range(draw(st.integers(1, 2))):
                before = _stored()
                sig = twilio.signature("tw-token", "http://testserver" + url, params)
                r = client.post(url, params, HTTP_X_TWILIO_SIGNATURE=sig)
                _answered(r, before)
            _drain(mode)
            _calls_are_sane()

    run()


def test_zadarma_webhook_with_extreme_values(client, world, hooks):
    @DB_SETTINGS
    @given(data=st.data(), mode=st.sampled_from(["sync", "queue"]))
    def run(data, mode):
        hooks.FUNNELWATCH_WEBHOOK_MODE = mode
        draw = data.draw
        start = draw(good_moments)
        params = {
            "event": draw(
                st.sampled_from(["NOTIFY_START", "NOTIFY_END", "NOTIFY_OUT_END", "NOTIFY_RECORD"])
            ),
            "call_start": f"{start:%Y-%m-%d %H:%M:%S}",
            "pbx_call_id": "in_1",
            "caller_id": "99112233",
            "called_did": "70001111",
            "internal": "101",
            "destination": "99112233",
            "duration": "30",
            "disposition": "answered",
            "call_id_with_rec": "rec1",
        }
        params = _maybe(
            draw,
            params,
            {
                "call_start": bad_stamp() | form_text,
                "duration": number_texts,
                "disposition": st.sampled_from(["answered", "busy", "weird"]),
                "pbx_call_id": form_text,
                "caller_id": form_text,
            },
        )
        params["event"] = params.get("event", "NOTIFY_END")
        with rolled_back():
            for _ in range(draw(st.integers(1, 2))):
                before = _stored()
                sig = zadarma.signature("zd-secret", params)
                r = client.post("/api/telephony/webhooks/zadarma", params, HTTP_SIGNATURE=sig)
                _answered(r, before)
            _drain(mode)
            _calls_are_sane()

    run()


mango_json = st.recursive(
    extreme_numbers | wild_text,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)
mango_times = st.one_of(
    st.integers(-(10**20), 10**20),
    st.sampled_from([1e18, 253402300799, -62135596800, 0, "1772416800", "soon", True]),
    st.floats(allow_nan=False),
)


def _mango_post(client, kind: str, data: dict):
    body = json.dumps(data)  # NaN and Infinity as such: refused as not JSON
    form = {"vpbx_api_key": "mg-key", "sign": mango.sign("mg-key", body, "mg-salt"), "json": body}
    return client.post(f"/api/telephony/webhooks/mango/events/{kind}", form)


def test_mango_webhooks_with_extreme_values(client, world, hooks):
    """Leg events of one call, some broken, then its summary: a broken leg event is
    refused and never spoils the call (a summary that is good on its own makes it)."""

    @DB_SETTINGS
    @given(data=st.data(), mode=st.sampled_from(["sync", "queue"]))
    def run(data, mode):
        hooks.FUNNELWATCH_WEBHOOK_MODE = mode
        draw = data.draw
        t = int(draw(good_moments).replace(tzinfo=dt.UTC).timestamp())
        changes = {
            "seq": extreme_numbers,
            "timestamp": mango_times,
            "call_id": mango_json,
            "to": mango_json,
            "from": mango_json,
            "call_state": mango_json,
        }
        events = []
        for seq, state in enumerate(["Appeared", "Connected", "Disconnected"], start=1):
            event = {
                "entry_id": "E1",
                "call_id": draw(st.sampled_from(["C1", "C2"])),
                "timestamp": t + 10 * seq,
                "seq": seq,
                "call_state": state,
                "location": "abonent",
                "from": {"number": "97699112233"},
                "to": {"extension": "101"},
            }
            events.append(_maybe(draw, event, changes) | {"entry_id": "E1"})
        summary = _maybe(
            draw,
            {
                "entry_id": "E1",
                "call_direction": 1,
                "from": {"number": "97699112233"},
                "to": {"extension": "101"},
                "create_time": t,
                "talk_time": t + 20,
                "end_time": t + 30,
                "entry_result": 1,
            },
            {
                "call_direction": extreme_numbers,
                "create_time": mango_times,
                "talk_time": mango_times,
                "end_time": mango_times,
                "entry_result": extreme_numbers,
                "from": mango_json,
            },
        )
        with rolled_back():
            for event in events:
                before = _stored()
                _answered(_mango_post(client, "call", event), before)
            before = _stored()
            r = _mango_post(client, "summary", summary)
            _answered(r, before)
            try:
                summary_is_good = bool(mango.parse_summary(json.loads(json.dumps(summary)), []))
                base.check_payload(summary)
            except (base.ParseError, ValueError):
                summary_is_good = False
            assert (r.status_code == 200) == summary_is_good
            before = _stored()
            recording = {"entry_id": "E1", "recording_id": draw(mango_json), "seq": 1}
            _answered(_mango_post(client, "record/added", recording), before)
            _drain(mode)
            _calls_are_sane()

    run()


def test_generic_extreme_events_through_the_queue_in_one_batch(client, world, hooks):
    """Many events queued, then one batch: never an exception, every stored event
    processed (a bad one was refused on arrival)."""

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(bodies=st.lists(generic_bodies(), max_size=8))
    def run(bodies):
        hooks.FUNNELWATCH_WEBHOOK_MODE = "queue"
        with rolled_back():
            for i, body in enumerate(bodies):
                body = body | {"event_id": f"ev{i}"}
                raw = json.dumps(body).encode()
                ts = str(int(time.time()))
                before = _stored()
                r = client.post(
                    "/api/telephony/webhooks/calls",
                    raw,
                    content_type="application/json",
                    HTTP_X_FUNNELWATCH_TIMESTAMP=ts,
                    HTTP_X_FUNNELWATCH_SIGNATURE=generic.signature("our-secret", ts, raw),
                )
                _answered(r, before)
            queued = WebhookEvent.objects.filter(processed_at__isnull=True).count()
            result = webhooks.process_pending()
            assert result["failed"] == 0 and result["processed"] == queued
            _calls_are_sane()

    run()
