"""Webhooks accepted only from the addresses allowed for their provider."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from funnelwatch.telephony.middleware import WebhookFastPathMiddleware
from funnelwatch.telephony.models import Call, WebhookEvent
from funnelwatch.telephony.providers import generic, zadarma

pytestmark = pytest.mark.django_db

ZD = "/api/telephony/webhooks/zadarma"
START = {
    "event": "NOTIFY_START",
    "call_start": "2026-03-02 10:00:00",
    "pbx_call_id": "in_1",
    "caller_id": "99112233",
    "called_did": "70001111",
}


@pytest.fixture
def secrets(settings):
    settings.FUNNELWATCH_ZADARMA_SECRET = "zd-secret"
    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    settings.FUNNELWATCH_WEBHOOK_ALLOWED_IPS_ZADARMA = "185.45.152.0/24, 2001:db8::/32"
    return settings


def _zd(client, params, **extra):
    sig = zadarma.signature("zd-secret", params)
    return client.post(ZD, params, HTTP_SIGNATURE=sig, **extra)


def test_zadarma_webhooks_only_from_its_addresses(client, world, secrets, caplog):
    with caplog.at_level(logging.WARNING, logger="funnelwatch.telephony.webhooks"):
        r = _zd(client, START, REMOTE_ADDR="198.51.100.7")
    assert r.status_code == 403 and "198.51.100.7" in r.json()["detail"]
    assert not WebhookEvent.objects.exists()
    assert "refused a zadarma webhook from 198.51.100.7" in caplog.text
    assert "FUNNELWATCH_WEBHOOK_ALLOWED_IPS_ZADARMA" in caplog.text
    # the echo check too
    assert client.get(ZD + "?zd_echo=x", REMOTE_ADDR="198.51.100.7").status_code == 403
    assert client.get(ZD + "?zd_echo=x", REMOTE_ADDR="185.45.152.9").content == b"x"

    assert _zd(client, START, REMOTE_ADDR="185.45.152.42").json()["status"] == "stored"
    again = START | {"pbx_call_id": "in_2"}
    assert _zd(client, again, REMOTE_ADDR="2001:db8::5").json()["status"] == "stored"
    assert WebhookEvent.objects.count() == 2


def test_other_providers_unaffected_by_zadarmas_list(client, world, secrets):
    body = {
        "event_id": "e1",
        "call_id": "g1",
        "direction": "out",
        "from": "101",
        "to": "+97699112233",
        "started_at": "2026-03-02T10:00:00+08:00",
        "outcome": "no_answer",
    }
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    headers = {
        "HTTP_X_FUNNELWATCH_TIMESTAMP": ts,
        "HTTP_X_FUNNELWATCH_SIGNATURE": generic.signature("our-secret", ts, raw),
        "REMOTE_ADDR": "198.51.100.7",
    }
    url = "/api/telephony/webhooks/calls"
    r = client.post(url, raw, content_type="application/json", **headers)
    assert r.status_code == 200 and Call.objects.count() == 1
    # with its own list, it is refused before the body is even read (403, not 422)
    secrets.FUNNELWATCH_WEBHOOK_ALLOWED_IPS_GENERIC = ["10.1.2.3"]
    r = client.post(url, b"{not json", content_type="application/json", **headers)
    assert r.status_code == 403


def test_forwarded_for_only_believed_from_a_trusted_proxy(client, world, secrets):
    via_proxy = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "185.45.152.42"}
    assert _zd(client, START, **via_proxy).status_code == 403  # anyone can write the header
    secrets.FUNNELWATCH_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert _zd(client, START, **via_proxy).json()["status"] == "stored"
    # the right-most address a trusted proxy saw counts, not what the client prepended
    forged = {
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": "185.45.152.42, 198.51.100.7, 10.0.0.3",
    }
    r = _zd(client, START | {"pbx_call_id": "in_9"}, **forged)
    assert r.status_code == 403 and "198.51.100.7" in r.json()["detail"]
    # a direct request is judged by its own address, whatever it claims
    direct = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "185.45.152.42"}
    assert _zd(client, START | {"pbx_call_id": "in_8"}, **direct).status_code == 403


def test_fast_path_refuses_before_the_view_and_the_view_refuses_without_it(
    client, world, secrets, settings
):
    def never(request):
        raise AssertionError("the rest of the stack must not run")

    middleware = WebhookFastPathMiddleware(never)
    request = RequestFactory().post(ZD, START, REMOTE_ADDR="198.51.100.7")
    response = middleware(request)
    assert response.status_code == 403
    assert getattr(request, "resolver_match", None) is None  # refused before resolving

    ok = WebhookFastPathMiddleware(lambda request: HttpResponse("rest"))
    assert ok(RequestFactory().get("/crm/", REMOTE_ADDR="198.51.100.7")).content == b"rest"

    fast_path = "funnelwatch.telephony.middleware.WebhookFastPathMiddleware"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != fast_path]
    assert _zd(client, START, REMOTE_ADDR="198.51.100.7").status_code == 403
    assert _zd(client, START, REMOTE_ADDR="185.45.152.1").status_code == 200
