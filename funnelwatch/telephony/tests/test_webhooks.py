from __future__ import annotations

import hashlib
import json
import time

import pytest

from funnelwatch.crm.models import Deal
from funnelwatch.telephony.models import Call, Recording, WebhookEvent
from funnelwatch.telephony.providers import generic, mango, twilio, zadarma

pytestmark = pytest.mark.django_db


@pytest.fixture
def secrets(settings):
    settings.FUNNELWATCH_TWILIO_AUTH_TOKEN = "tw-token"
    settings.FUNNELWATCH_ZADARMA_SECRET = "zd-secret"
    settings.FUNNELWATCH_MANGO_API_KEY = "mg-key"
    settings.FUNNELWATCH_MANGO_SALT = "mg-salt"
    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    settings.FUNNELWATCH_PHONE_REGION = "MN"
    return settings


def _twilio_post(client, path, params, token="tw-token"):
    url = "http://testserver" + path
    sig = twilio.signature(token, url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sig)


TW = "/api/telephony/webhooks/twilio/status"


def test_twilio_inbound_dialled_leg_answers_the_call(client, world, secrets):
    parent = {
        "CallSid": "CA1",
        "CallStatus": "completed",
        "Direction": "inbound",
        "From": "+97699112233",
        "To": "+97670001111",
        "CallDuration": "95",
        "Timestamp": "Mon, 02 Mar 2026 02:01:35 +0000",
    }
    child = {
        "CallSid": "CA2",
        "ParentCallSid": "CA1",
        "CallStatus": "completed",
        "Direction": "outbound-dial",
        "From": "+97699112233",
        "To": "client:101",
        "CallDuration": "80",
        "Timestamp": "Mon, 02 Mar 2026 02:01:35 +0000",
    }
    # the parent alone: the application answered, no person yet
    r = _twilio_post(client, TW, parent)
    assert r.status_code == 200 and r.json()["status"] == "created"
    call = Call.objects.get(provider="twilio", external_id="CA1")
    assert call.direction == "in" and call.outcome == "no_answer"
    r = _twilio_post(client, TW, child)
    assert r.status_code == 200 and r.json()["status"] == "updated"
    call.refresh_from_db()
    assert call.outcome == "answered" and call.talk_seconds == 80
    assert call.legs.count() == 2
    # replayed event: stored once
    r = _twilio_post(client, TW, child)
    assert r.json()["status"] == "duplicate"
    assert Call.objects.count() == 1
    # an unknown caller became a lead, routed to a manager
    assert call.contact is not None and call.deal is not None
    assert Deal.objects.filter(contact=call.contact).count() == 1


def test_twilio_bad_signature_and_bad_field(client, world, secrets):
    params = {
        "CallSid": "CA9",
        "CallStatus": "completed",
        "Direction": "outbound-api",
        "From": "client:101",
        "To": "+97699112233",
        "CallDuration": "10",
    }
    r = _twilio_post(client, TW, params, token="wrong")
    assert r.status_code == 403
    assert not WebhookEvent.objects.exists()
    bad = params | {"CallStatus": "exploded"}
    r = _twilio_post(client, TW, bad)
    assert r.status_code == 400 and "CallStatus" in r.json()["detail"]
    assert not WebhookEvent.objects.exists()  # refused: nothing kept to spoil a resend
    r = _twilio_post(client, TW, params)
    call = Call.objects.get()
    assert call.direction == "out" and call.manager == world.alice and call.answered


def test_twilio_recording_before_call_is_attached_later(
    client, world, secrets, monkeypatch, django_capture_on_commit_callbacks, tmp_path
):
    secrets.MEDIA_ROOT = tmp_path
    rec = {
        "CallSid": "CA5",
        "RecordingSid": "RE1",
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        "RecordingDuration": "12",
        "RecordingChannels": "2",
    }
    r = _twilio_post(client, "/api/telephony/webhooks/twilio/recording", rec)
    assert r.json()["status"] == "waiting"
    status = {
        "CallSid": "CA5",
        "CallStatus": "completed",
        "Direction": "outbound-api",
        "From": "client:102",
        "To": "+97699112299",
        "CallDuration": "12",
    }
    fetched = []
    monkeypatch.setattr(
        "funnelwatch.telephony.recordings.download",
        lambda url, timeout, provider: fetched.append(url) or (b"RIFFxxxx", "audio/wav"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        _twilio_post(client, TW, status)
    recording = Recording.objects.get(call__external_id="CA5")
    assert fetched == [recording.source_url] and recording.source_url.endswith("RE1")
    assert recording.status == "stored" and recording.file.name.endswith(".wav")


def _zd(client, params, secret="zd-secret"):
    sig = zadarma.signature(secret, params)
    return client.post("/api/telephony/webhooks/zadarma", params, HTTP_SIGNATURE=sig)


def test_zadarma_echo_events_and_signature(client, world, secrets):
    assert client.get("/api/telephony/webhooks/zadarma?zd_echo=abc123").content == b"abc123"
    start = {
        "event": "NOTIFY_START",
        "call_start": "2026-03-02 10:00:00",
        "pbx_call_id": "in_1",
        "caller_id": "99112233",
        "called_did": "70001111",
    }
    assert _zd(client, start).json()["status"] == "stored"
    end = start | {
        "event": "NOTIFY_END",
        "internal": "102",
        "duration": "0",
        "disposition": "no answer",
        "status_code": "19",
        "is_recorded": "0",
    }
    assert _zd(client, end, secret="nope").status_code == 403
    r = _zd(client, end)
    assert r.json()["status"] == "created"
    call = Call.objects.get(provider="zadarma")
    assert call.direction == "in" and call.outcome == "no_answer" and call.is_missed
    assert call.from_number == "+97699112233"
    out = {
        "event": "NOTIFY_OUT_END",
        "call_start": "2026-03-02 10:07:00",
        "pbx_call_id": "out_1",
        "internal": "101",
        "destination": "99112233",
        "caller_id": "70001111",
        "duration": "45",
        "disposition": "answered",
        "status_code": "16",
        "is_recorded": "1",
        "call_id_with_rec": "rec1",
    }
    assert _zd(client, out).json()["status"] == "created"
    call.refresh_from_db()
    assert call.callback is not None and call.callback.manager == world.alice
    bad = out | {"pbx_call_id": "out_2", "disposition": "weird"}
    r = _zd(client, bad)
    assert r.status_code == 400 and "disposition" in r.json()["detail"]
    assert _zd(client, out).json()["status"] == "duplicate"


def _mango(client, kind, data, key="mg-key", salt="mg-salt"):
    body = json.dumps(data)
    form = {"vpbx_api_key": key, "sign": mango.sign(key, body, salt), "json": body}
    return client.post(f"/api/telephony/webhooks/mango/events/{kind}", form)


def test_mango_legs_summary_and_recording(client, world, secrets):
    t = 1772416800  # 2026-03-02 02:00 UTC
    ring = {
        "entry_id": "E1",
        "call_id": "C1",
        "timestamp": t,
        "seq": 1,
        "call_state": "Appeared",
        "location": "abonent",
        "from": {"number": "97699112233"},
        "to": {"extension": "101"},
    }
    talk = ring | {"seq": 2, "call_state": "Connected", "timestamp": t + 5}
    bye = ring | {
        "seq": 3,
        "call_state": "Disconnected",
        "timestamp": t + 65,
        "disconnect_reason": 1110,
    }
    other = ring | {"call_id": "C2", "to": {"extension": "102"}}
    other_bye = other | {"seq": 2, "call_state": "Disconnected", "timestamp": t + 5}
    for ev in (ring, talk, other, other_bye, bye):
        assert _mango(client, "call", ev).status_code == 200
    assert _mango(client, "call", bye).json()["status"] == "duplicate"
    assert _mango(client, "call", bye, salt="bad").status_code == 403
    summary = {
        "entry_id": "E1",
        "call_direction": 1,
        "from": {"number": "97699112233"},
        "to": {"extension": "101", "number": "70001111"},
        "line_number": "70001111",
        "create_time": t,
        "forward_time": t + 1,
        "talk_time": t + 5,
        "end_time": t + 65,
        "entry_result": 1,
        "disconnect_reason": 1110,
    }
    r = _mango(client, "summary", summary)
    assert r.json()["status"] == "created"
    call = Call.objects.get(provider="mango")
    assert call.outcome == "answered" and call.talk_seconds == 60
    assert call.manager == world.alice and call.legs.count() == 2
    r = _mango(
        client, "record/added", {"entry_id": "E1", "recording_id": "R1", "timestamp": t + 70}
    )
    assert r.json()["status"] == "created"
    assert Recording.objects.get(call=call).source_url == "mango:R1"
    bad = summary | {"entry_id": "E2", "entry_result": 7}
    r = _mango(client, "summary", bad)
    assert r.status_code == 400 and "entry_result" in r.json()["detail"]


def _generic(client, body: dict, secret="our-secret", ts=None):
    raw = json.dumps(body).encode()
    ts = str(int(ts if ts is not None else time.time()))
    return client.post(
        "/api/telephony/webhooks/calls",
        raw,
        content_type="application/json",
        HTTP_X_FUNNELWATCH_TIMESTAMP=ts,
        HTTP_X_FUNNELWATCH_SIGNATURE=generic.signature(secret, ts, raw),
    )


def test_generic_webhook(client, world, secrets):
    body = {
        "event_id": "ev1",
        "call_id": "g1",
        "direction": "out",
        "from": "101",
        "to": "+97699112233",
        "started_at": "2026-03-02T10:00:00+08:00",
        "ended_at": "2026-03-02T10:02:00+08:00",
        "talk_seconds": 100,
        "outcome": "answered",
        "legs": [{"leg_id": "a", "billsec": 100, "answered": True, "channel": "PJSIP/101-1"}],
    }
    r = _generic(client, body)
    assert r.status_code == 200 and r.json()["status"] == "created"
    call = Call.objects.get(provider="generic")
    assert call.answered and call.talk_seconds == 100 and call.manager == world.alice
    assert _generic(client, body).json()["status"] == "duplicate"
    assert _generic(client, body | {"event_id": "ev2"}, secret="x").status_code == 403
    assert _generic(client, body | {"event_id": "ev3"}, ts=time.time() - 3600).status_code == 403
    r = _generic(
        client, body | {"event_id": "ev4", "ended_at": "2026-03-02T09:00:00+08:00", "call_id": "g2"}
    )
    assert r.status_code == 400 and "ended_at" in r.json()["detail"]
    r = _generic(client, body | {"event_id": "ev5", "outcome": "maybe"})
    assert r.status_code == 422
    assert Call.objects.count() == 1


def test_generic_schema_documented(client, world):
    client.force_login(world.head)
    schema = client.get("/api/openapi.json").json()
    assert "/api/telephony/webhooks/calls" in schema["paths"]
    assert "CallEventIn" in json.dumps(schema["components"])


def test_hash_helpers_match_reference():
    # Zadarma: base64 of the hex digest (PHP hash_hmac returns hex)
    sig = zadarma.signature(
        "s", {"event": "NOTIFY_RECORD", "pbx_call_id": "a", "call_id_with_rec": "b"}
    )
    import base64
    import hmac

    assert base64.b64decode(sig).decode() == hmac.new(b"s", b"ab", hashlib.sha1).hexdigest()
    assert mango.sign("k", "{}", "s") == hashlib.sha256(b"k{}s").hexdigest()


def test_recording_fetch_retries_then_fails(world, settings, tmp_path, at):
    from funnelwatch.telephony import recordings
    from funnelwatch.telephony.tests.factories import make_call

    settings.MEDIA_ROOT = tmp_path
    settings.FUNNELWATCH_RECORDING_RETRIES = 2
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    call = make_call(direction="out", start=at(2026, 3, 2, 10))
    rec = Recording.objects.create(call=call, source_url="https://pbx.example/r.wav")

    def boom(url, timeout, provider):
        assert timeout == 30
        raise TimeoutError("timed out")

    assert recordings.fetch(rec.pk, downloader=boom) == "pending"
    assert recordings.fetch(rec.pk, downloader=boom) == "failed"
    rec.refresh_from_db()
    assert rec.attempts == 2 and "timed out" in rec.error
    rec.status, rec.attempts = "pending", 0
    rec.save()
    assert (
        recordings.fetch(rec.pk, downloader=lambda u, t, provider: (b"ID3data", "audio/mpeg"))
        == "stored"
    )
    rec.refresh_from_db()
    assert rec.file.name.endswith(".mp3") and rec.error == ""


def test_zadarma_api_signature_is_base64_of_hex():
    import base64
    import hmac

    from funnelwatch.telephony.recordings import zadarma_auth

    auth = zadarma_auth("key", "sec", "/v1/pbx/record/request/", {"call_id": "x"})
    query = "call_id=x"
    data = "/v1/pbx/record/request/" + query + hashlib.md5(query.encode()).hexdigest()
    expected = hmac.new(b"sec", data.encode(), hashlib.sha1).hexdigest()
    assert auth == "key:" + base64.b64encode(expected.encode()).decode()


def _outbound(event_id: str, call_id: str) -> dict:
    """An answered outbound call of extension 101, as our JSON webhook carries it."""
    return {
        "event_id": event_id,
        "call_id": call_id,
        "direction": "out",
        "from": "101",
        "to": "+97699112233",
        "started_at": "2026-03-02T10:00:00+08:00",
        "talk_seconds": 10,
        "outcome": "answered",
    }


def test_queue_mode_stores_then_processes_in_batches(client, world, secrets):
    from funnelwatch.telephony import webhooks

    secrets.FUNNELWATCH_WEBHOOK_MODE = "queue"
    body = _outbound("q1", "gq1")
    assert _generic(client, body).json()["status"] == "queued"
    assert _generic(client, body).json()["status"] == "duplicate"
    assert _generic(client, body | {"event_id": "q2", "call_id": "gq2"}).json()["status"] == (
        "queued"
    )
    child = {
        "CallSid": "CQ2",
        "ParentCallSid": "CQ1",
        "CallStatus": "completed",
        "Direction": "outbound-dial",
        "From": "+97699112299",
        "To": "client:102",
        "CallDuration": "30",
    }
    assert _twilio_post(client, TW, child).json()["status"] == "queued"
    # a bad event is refused on arrival in queue mode too, and not stored
    r = _twilio_post(client, TW, child | {"CallSid": "CQ3", "CallStatus": "weird"})
    assert r.status_code == 400 and "CallStatus" in r.json()["detail"]
    assert not WebhookEvent.objects.filter(event_key__startswith="status:CQ3").exists()
    # one stored before events were checked on arrival fails alone, keeping its error
    WebhookEvent.objects.create(
        provider="twilio",
        event_key="status:CQ4:weird:",
        payload=child | {"CallSid": "CQ4", "CallStatus": "weird", "_kind": "twilio_status"},
    )
    assert not Call.objects.exists()
    result = webhooks.process_pending()
    assert result == {"processed": 3, "failed": 1, "calls_created": 3}
    call = Call.objects.get(external_id="CQ1")
    assert call.direction == "in" and call.manager == world.bob and call.answered
    assert "CallStatus" in WebhookEvent.objects.get(event_key__startswith="status:CQ4").error
    assert webhooks.process_pending() == {"processed": 0, "failed": 0, "calls_created": 0}


def test_twilio_recording_request_carries_account_credentials(secrets):
    import base64
    import urllib.parse

    from funnelwatch.telephony import recordings

    secrets.FUNNELWATCH_TWILIO_ACCOUNT_SID = "AC123"
    url = urllib.parse.urlsplit("https://api.twilio.com/2010-04-01/Accounts/AC123/Recordings/RE1")
    assert recordings._credentials(url) == {
        "Authorization": "Basic " + base64.b64encode(b"AC123:tw-token").decode()
    }
    assert recordings._credentials(urllib.parse.urlsplit("https://pbx.example/r.wav")) == {}


def test_webhooks_take_the_short_middleware_path(client, world, secrets):
    body = {
        "event_id": "fast1",
        "call_id": "f1",
        "direction": "out",
        "from": "101",
        "to": "+97699112233",
        "started_at": "2026-03-02T10:00:00+08:00",
        "outcome": "no_answer",
    }
    r = _generic(client, body)
    assert r.status_code == 200 and r.json()["status"] == "created"
    assert "X-Frame-Options" not in r.headers and not r.cookies  # stack skipped
    assert r.headers["Content-Length"] == str(len(r.content))
    assert _generic(client, body).json()["status"] == "duplicate"
    client.force_login(world.head)
    assert "X-Frame-Options" in client.get("/api/openapi.json").headers  # others: full stack
    assert client.get("/api/telephony/webhooks/nowhere").status_code == 404


GENERIC = {
    "event_id": "x1",
    "call_id": "gx1",
    "direction": "in",
    "from": "+97699112233",
    "to": "70001111",
    "extension": "101",
    "started_at": "2026-03-02T10:00:00+08:00",
    "ended_at": "2026-03-02T10:02:00+08:00",
    "talk_seconds": 100,
    "outcome": "answered",
}


def _nothing_stored():
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.crm.models import Contact

    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists() and not Contact.objects.exists()
    assert not AuditEvent.objects.filter(source="integration").exists()


@pytest.mark.parametrize("mode", ["sync", "queue"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"talk_seconds": 10**20}, "talk_seconds"),
        ({"talk_seconds": 86401}, "talk_seconds"),
        ({"started_at": "0001-01-01T00:00:00+14:00"}, "started_at"),
        ({"started_at": "9999-12-31T23:59:59-12:00", "ended_at": None}, "started_at"),
        ({"ended_at": "9999-12-31T00:00:00+00:00"}, "ended_at"),
        ({"started_at": "1999-12-31T23:00:00+00:00"}, "started_at"),
        ({"ended_at": "2026-03-04T10:00:00+08:00"}, "ended_at"),  # lasts two days
        ({"legs": [{"leg_id": "a"}, {"leg_id": "a"}]}, "legs[1].leg_id"),
        ({"legs": [{"leg_id": "a", "billsec": 10**20}]}, "legs[0].billsec"),
        ({"hangup_cause": "a\x00b"}, "hangup_cause"),
        ({"hangup_cause": "a\ud800b"}, "hangup_cause"),
    ],
)
def test_generic_extreme_values_are_400_and_store_nothing(
    client, world, secrets, mode, change, field
):
    secrets.FUNNELWATCH_WEBHOOK_MODE = mode
    r = _generic(client, GENERIC | change)
    assert r.status_code == 400, r.content
    assert r.json()["detail"].startswith(f"{field}:")
    _nothing_stored()


@pytest.mark.parametrize("mode", ["sync", "queue"])
def test_twilio_extreme_values_are_400_and_store_nothing(client, world, secrets, mode):
    secrets.FUNNELWATCH_WEBHOOK_MODE = mode
    params = {
        "CallSid": "CX1",
        "CallStatus": "completed",
        "Direction": "outbound-api",
        "From": "client:101",
        "To": "+97699112233",
        "CallDuration": "60",
    }
    for change, field in [
        ({"CallDuration": "99999999999"}, "CallDuration"),
        ({"CallDuration": "9" * 5000}, "CallDuration"),
        ({"Timestamp": "Fri, 31 Dec 9999 23:59:59 -1200"}, "Timestamp"),
        ({"Timestamp": "Mon, 02 Mar 2026 02:01:35 +9999"}, "Timestamp"),
        ({"From": "client:1\x0001"}, "From"),
    ]:
        r = _twilio_post(client, TW, params | change)
        assert r.status_code == 400, (change, r.content)
        assert r.json()["detail"].startswith(f"{field}:")
    recording = {
        "CallSid": "CX1",
        "RecordingSid": "RE1",
        "RecordingUrl": "https://api.twilio.com/r/RE1",
        "RecordingDuration": "1e400",
    }
    r = _twilio_post(client, "/api/telephony/webhooks/twilio/recording", recording)
    assert r.status_code == 400 and r.json()["detail"].startswith("RecordingDuration:")
    _nothing_stored()
    # a zone-less date ("-0000") is UTC, not a naive time that breaks comparisons
    r = _twilio_post(client, TW, params | {"Timestamp": "Mon, 02 Mar 2026 02:01:35 -0000"})
    assert r.status_code == 200


@pytest.mark.parametrize("mode", ["sync", "queue"])
def test_zadarma_extreme_values_are_400_and_store_nothing(client, world, secrets, mode):
    secrets.FUNNELWATCH_WEBHOOK_MODE = mode
    end = {
        "event": "NOTIFY_END",
        "call_start": "2026-03-02 10:00:00",
        "pbx_call_id": "in_x",
        "caller_id": "99112233",
        "called_did": "70001111",
        "internal": "101",
        "duration": "30",
        "disposition": "answered",
    }
    for change, field in [
        ({"duration": "99999999999"}, "duration"),
        ({"call_start": "9999-12-31 23:59:59"}, "call_start"),
        ({"call_start": "0001-01-01 00:00:00"}, "call_start"),
        ({"caller_id": "99\x00112233"}, "caller_id"),
    ]:
        r = _zd(client, end | change)
        assert r.status_code == 400, (change, r.content)
        assert r.json()["detail"].startswith(f"{field}:")
    _nothing_stored()


MANGO_T = 1772416800  # 2026-03-02 02:00 UTC


@pytest.mark.parametrize("mode", ["sync", "queue"])
def test_mango_extreme_values_are_400_and_store_nothing(client, world, secrets, mode):
    secrets.FUNNELWATCH_WEBHOOK_MODE = mode
    summary = {
        "entry_id": "EX",
        "call_direction": 1,
        "from": {"number": "97699112233"},
        "to": {"extension": "101"},
        "create_time": MANGO_T,
        "talk_time": MANGO_T + 5,
        "end_time": MANGO_T + 65,
        "entry_result": 1,
    }
    for change, field in [
        ({"create_time": 1e18}, "create_time"),
        ({"create_time": 253402300799}, "create_time"),  # 9999-12-31
        ({"end_time": -62135596800}, "end_time"),  # year 1
        ({"talk_time": MANGO_T + 99}, "talk_time"),  # after the end
        ({"end_time": MANGO_T + 2 * 86400}, "end_time"),
        ({"call_direction": 1e300}, "call_direction"),
        ({"call_direction": 1.5e400}, "json"),  # written as Infinity
        ({"entry_id": {"a": 1}}, "entry_id"),
    ]:
        r = _mango(client, "summary", summary | change)
        assert r.status_code == 400, (change, r.content)
        assert r.json()["detail"].startswith(f"{field}:")
    event = {
        "entry_id": "EX",
        "call_id": "C1",
        "timestamp": MANGO_T,
        "seq": 1,
        "call_state": "Appeared",
        "to": {"extension": "101"},
    }
    for change, field in [
        ({"seq": "x"}, "seq"),
        ({"seq": -1}, "seq"),
        ({"timestamp": 1e18}, "timestamp"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"to": "101"}, "to"),
        ({"call_id": ["C1"]}, "call_id"),
    ]:
        r = _mango(client, "call", event | change)
        assert r.status_code == 400, (change, r.content)
        assert r.json()["detail"].startswith(f"{field}:")
    body = json.dumps(event).replace(f'"timestamp": {MANGO_T}', '"timestamp": NaN')
    form = {"vpbx_api_key": "mg-key", "sign": mango.sign("mg-key", body, "mg-salt"), "json": body}
    r = client.post("/api/telephony/webhooks/mango/events/call", form)
    assert r.status_code == 400 and r.json()["detail"].startswith("json:")
    r = _mango(client, "recording", {"entry_id": "EX", "recording_id": "R\x001", "seq": 1})
    assert r.status_code == 400
    _nothing_stored()


def test_a_bad_mango_leg_event_does_not_poison_its_call(client, world, secrets):
    """``seq: "x"`` is refused; one stored before events were checked is passed over: the
    summary of that entry makes its call instead of failing for ever."""
    ring = {
        "entry_id": "EP",
        "call_id": "C1",
        "timestamp": MANGO_T,
        "seq": 1,
        "call_state": "Appeared",
        "location": "abonent",
        "from": {"number": "97699112233"},
        "to": {"extension": "101"},
    }
    r = _mango(client, "call", ring | {"seq": "x"})
    assert r.status_code == 400 and r.json()["detail"].startswith("seq:")
    assert not WebhookEvent.objects.exists()
    WebhookEvent.objects.create(
        provider="mango",
        event_key="call:EP:C1:y",
        payload=ring | {"seq": "y", "_kind": "mango_call"},
    )
    assert _mango(client, "call", ring).status_code == 200
    bye = ring | {"seq": 2, "call_state": "Disconnected", "timestamp": MANGO_T + 30}
    assert _mango(client, "call", bye).status_code == 200
    summary = {
        "entry_id": "EP",
        "call_direction": 1,
        "from": {"number": "97699112233"},
        "to": {"extension": "101"},
        "create_time": MANGO_T,
        "end_time": MANGO_T + 30,
        "entry_result": 0,
    }
    r = _mango(client, "summary", summary)
    assert r.status_code == 200 and r.json()["status"] == "created"
    assert Call.objects.get(provider="mango", external_id="EP").legs.count() == 1
    # and a later leg event of that entry is merged, not a 500
    late = ring | {"call_id": "C2", "seq": 1}
    assert _mango(client, "call", late).status_code == 200
    r = _mango(client, "call", late | {"seq": 2, "call_state": "Disconnected"})
    assert r.status_code == 200 and r.json()["status"] == "updated"


def test_queued_events_that_cannot_be_stored_fail_alone(client, world, secrets, monkeypatch):
    """In the queue, an event whose call the database refuses keeps the error on its row;
    the other events of the batch are processed and the queue moves on."""
    from django.db import DataError

    from funnelwatch.telephony import ingest as ingest_mod
    from funnelwatch.telephony import webhooks

    secrets.FUNNELWATCH_WEBHOOK_MODE = "queue"
    for i in range(5):
        body = GENERIC | {"event_id": f"q{i}", "call_id": f"gq{i}"}
        assert _generic(client, body).json()["status"] == "queued"
    real = ingest_mod._audit_created

    def picky(rows, ids):
        if any(row[1] == "gq3" for row in rows):
            raise DataError("value out of range for the column")
        return real(rows, ids)

    monkeypatch.setattr(ingest_mod, "_audit_created", picky)
    assert webhooks.process_pending() == {"processed": 4, "failed": 1, "calls_created": 4}
    assert sorted(Call.objects.values_list("external_id", flat=True)) == [
        "gq0",
        "gq1",
        "gq2",
        "gq4",
    ]
    assert "out of range" in WebhookEvent.objects.get(event_key="event:q3").error
    assert webhooks.process_pending() == {"processed": 0, "failed": 0, "calls_created": 0}


DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.mark.django_db(transaction=True)
def test_default_queue_answers_at_once_and_the_worker_makes_the_calls(
    client, world, secrets, django_capture_on_commit_callbacks
):
    """The installation's default: events are stored and answered; one worker batch,
    asked for by the first event and run FUNNELWATCH_WEBHOOK_BATCH_MS later, makes the
    calls of every event stored meanwhile."""
    import datetime as dt

    import time_machine
    from django.core.management import call_command
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from funnelwatch import settings as installed
    from funnelwatch.telephony import webhooks

    assert installed.FUNNELWATCH_WEBHOOK_MODE == "queue"
    secrets.FUNNELWATCH_WEBHOOK_MODE = "queue"
    secrets.TASKS = DB_TASKS
    # A minute (the default is half a second), so that a slow machine cannot make the
    # batch due before the test looks.
    secrets.FUNNELWATCH_WEBHOOK_BATCH_MS = 60_000
    webhooks._batch_due = 0.0
    body = _outbound("d1", "gd1")
    asked = timezone.now()
    for n in range(3):
        event = body | {"event_id": f"d{n}", "call_id": f"gd{n}"}
        assert _generic(client, event).json()["status"] == "queued"
    assert _generic(client, body | {"event_id": "d0", "call_id": "gd0"}).json()["status"] == (
        "duplicate"
    )
    assert not Call.objects.exists()
    # One batch for the three events, due a minute after the first.
    [batch] = DBTaskResult.objects.all()
    assert batch.task_path.endswith("process_webhook_events")
    assert dt.timedelta(seconds=60) <= batch.run_after - asked < dt.timedelta(seconds=90)
    # Before it is due the worker leaves it; once due it runs and makes every call.
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    assert not Call.objects.exists()
    with time_machine.travel(batch.run_after + dt.timedelta(seconds=1)):
        call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    assert sorted(Call.objects.values_list("external_id", flat=True)) == ["gd0", "gd1", "gd2"]
    assert not WebhookEvent.objects.filter(processed_at__isnull=True).exists()
    # The next event, after the batch was due, asks for a batch of its own.
    webhooks._batch_due = 0.0
    assert _generic(client, body | {"event_id": "d9", "call_id": "gd9"}).json()["status"] == (
        "queued"
    )
    assert DBTaskResult.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_batches_at_once_process_each_event_once(world, secrets):
    """A worker batch and the periodic job's may start together: they take turns, and the
    second finds nothing left."""
    import threading

    from django.db import connection

    from funnelwatch.telephony import webhooks

    if connection.vendor == "sqlite":
        pytest.skip("SQLite in memory: one connection; its transactions already take turns")
    for n in range(20):
        webhooks.store_event(
            "generic",
            f"event:t{n}",
            _outbound(f"t{n}", f"gt{n}") | {webhooks.KIND_KEY: "generic"},
        )
    results = []

    def batch():
        try:
            results.append(webhooks.process_pending())
        finally:
            connection.close()

    threads = [threading.Thread(target=batch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["processed"] for r in results) == [0, 20]
    assert Call.objects.filter(external_id__startswith="gt").count() == 20
