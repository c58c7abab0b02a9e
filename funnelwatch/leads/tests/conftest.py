from __future__ import annotations

import pytest

from funnelwatch.leads.tests.standins import StandIn


@pytest.fixture
def standin(settings):
    with StandIn() as server:
        settings.FUNNELWATCH_TELEGRAM_API_BASE = server.url
        settings.FUNNELWATCH_TWILIO_API = server.url
        settings.FUNNELWATCH_TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.FUNNELWATCH_TWILIO_AUTH_TOKEN = "twilio-token"
        settings.FUNNELWATCH_WHATSAPP_FROM = "whatsapp:+14155238886"
        settings.SITE_URL = "https://crm.example.com"
        yield server
