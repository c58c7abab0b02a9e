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
    assert WebhookEvent.objects.get().error.startswith("CallStatus")
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


def test_queue_mode_stores_then_processes_in_batches(client, world, secrets):
    from funnelwatch.telephony import webhooks

    secrets.FUNNELWATCH_WEBHOOK_MODE = "queue"
    body = {
        "event_id": "q1",
        "call_id": "gq1",
        "direction": "out",
        "from": "101",
        "to": "+97699112233",
        "started_at": "2026-03-02T10:00:00+08:00",
        "talk_seconds": 10,
        "outcome": "answered",
    }
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
    _twilio_post(client, TW, child | {"CallSid": "CQ3", "CallStatus": "weird"})
    assert not Call.objects.exists()
    result = webhooks.process_pending()
    assert result == {"processed": 3, "failed": 1, "calls_created": 3}
    call = Call.objects.get(external_id="CQ1")
    assert call.direction == "in" and call.manager == world.bob and call.answered
    assert "CallStatus" in WebhookEvent.objects.get(event_key__startswith="status:CQ3").error
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
