"""Telephony settings, read from the environment."""

from __future__ import annotations

from django.conf import settings

from funnelwatch.lib.addresses import as_list
from funnelwatch.lib.env import envbool, envint, envlist, envsecret, envstr


def _get(name: str, default: object) -> object:
    return getattr(settings, name, default)


def twilio_auth_token() -> str:
    return _get("FUNNELWATCH_TWILIO_AUTH_TOKEN", envsecret("FUNNELWATCH_TWILIO_AUTH_TOKEN"))


def twilio_account_sid() -> str:
    return _get("FUNNELWATCH_TWILIO_ACCOUNT_SID", envstr("FUNNELWATCH_TWILIO_ACCOUNT_SID"))


def zadarma_secret() -> str:
    return _get("FUNNELWATCH_ZADARMA_SECRET", envsecret("FUNNELWATCH_ZADARMA_SECRET"))


def zadarma_key() -> str:
    """The Zadarma API user key (for downloading recordings)."""
    return _get("FUNNELWATCH_ZADARMA_KEY", envsecret("FUNNELWATCH_ZADARMA_KEY"))


def mango_api_key() -> str:
    return _get("FUNNELWATCH_MANGO_API_KEY", envsecret("FUNNELWATCH_MANGO_API_KEY"))


def mango_salt() -> str:
    return _get("FUNNELWATCH_MANGO_SALT", envsecret("FUNNELWATCH_MANGO_SALT"))


def webhook_secret() -> str:
    """Shared secret of the generic JSON webhook (HMAC-SHA256 of the body)."""
    return _get("FUNNELWATCH_CALLS_WEBHOOK_SECRET", envsecret("FUNNELWATCH_CALLS_WEBHOOK_SECRET"))


def route_token() -> str:
    """Token the PBX sends to ``/api/telephony/route``."""
    return _get("FUNNELWATCH_ROUTE_TOKEN", envsecret("FUNNELWATCH_ROUTE_TOKEN"))


def create_leads() -> bool:
    """Create a lead for an inbound call from an unknown number."""
    return _get("FUNNELWATCH_CALLS_CREATE_LEADS", envbool("FUNNELWATCH_CALLS_CREATE_LEADS", True))


def csv_timezone() -> str:
    """Zone the PBX writes CDR times in (empty: the company's zone)."""
    return _get("FUNNELWATCH_CDR_TIMEZONE", envstr("FUNNELWATCH_CDR_TIMEZONE", ""))


def recording_timeout() -> int:
    return _get("FUNNELWATCH_RECORDING_TIMEOUT", envint("FUNNELWATCH_RECORDING_TIMEOUT", 30))


def recording_retries() -> int:
    return _get("FUNNELWATCH_RECORDING_RETRIES", envint("FUNNELWATCH_RECORDING_RETRIES", 5))


# Where each provider keeps its recordings (and where its API redirects downloads to).
# Providers without an entry (our JSON webhook: the company's own PBX) fetch from nowhere
# until their hosts are listed.
RECORDING_HOST_DEFAULTS: dict[str, list[str]] = {
    "twilio": ["api.twilio.com", "*.twilio.com", "*.twiliocdn.com"],
    "zadarma": ["api.zadarma.com", "*.zadarma.com"],
    "mango": ["app.mango-office.ru", "mango-office.ru", "*.mango-office.ru"],
}


def recording_hosts_setting(provider: str) -> str:
    return f"FUNNELWATCH_RECORDING_HOSTS_{provider.upper()}"


def recording_hosts(provider: str) -> list[str]:
    """Hosts recordings of this provider may be fetched from (``*.example.com``, ``*``)."""
    name = recording_hosts_setting(provider)
    return as_list(_get(name, envlist(name, RECORDING_HOST_DEFAULTS.get(provider, []))))


def recording_internal_hosts() -> list[str]:
    """Hosts or networks that may be fetched although their addresses are internal."""
    name = "FUNNELWATCH_RECORDING_INTERNAL_HOSTS"
    return as_list(_get(name, envlist(name, [])))


def recording_max_bytes() -> int:
    name = "FUNNELWATCH_RECORDING_MAX_BYTES"
    return _get(name, envint(name, 200 * 1024 * 1024))


def call_sla_minutes() -> int:
    return getattr(settings, "FUNNELWATCH_CALL_SLA_MINUTES", 15)


def webhook_mode() -> str:
    """ "sync" (process each event as it arrives) or "queue" (store, process in batches)."""
    return _get("FUNNELWATCH_WEBHOOK_MODE", envstr("FUNNELWATCH_WEBHOOK_MODE", "sync"))


def webhook_allowed_ips_setting(provider: str) -> str:
    return f"FUNNELWATCH_WEBHOOK_ALLOWED_IPS_{provider.upper()}"


def webhook_allowed_networks(provider: str) -> tuple:
    """Addresses and networks that may send this provider's webhooks; empty = anyone
    (the signature is then the only check)."""
    from funnelwatch.lib.addresses import networks

    name = webhook_allowed_ips_setting(provider)
    return networks(_get(name, envlist(name, [])), name)
