"""The leads app's settings, from Django settings or the environment."""

from __future__ import annotations

from django.conf import settings

from funnelwatch.lib.addresses import as_list
from funnelwatch.lib.env import envint, envstr


def _get(name: str, default: object) -> object:
    return getattr(settings, name, default)


def telegram_api_base() -> str:
    """The Bot API's address (a local stand-in in tests)."""
    value = _get("FUNNELWATCH_TELEGRAM_API", envstr("FUNNELWATCH_TELEGRAM_API"))
    return str(value or "https://api.telegram.org").rstrip("/")


def twilio_api_base() -> str:
    """Twilio's REST API address, for WhatsApp replies (a local stand-in in tests)."""
    value = _get("FUNNELWATCH_TWILIO_API", envstr("FUNNELWATCH_TWILIO_API"))
    return str(value or "https://api.twilio.com").rstrip("/")


def whatsapp_from() -> str:
    """The company's WhatsApp sender, ``whatsapp:+14155238886``."""
    return str(_get("FUNNELWATCH_WHATSAPP_FROM", envstr("FUNNELWATCH_WHATSAPP_FROM")))


def lead_addresses() -> set[str]:
    """Mail addresses whose letters from unknown senders become leads."""
    value = _get("FUNNELWATCH_LEADS_EMAIL", envstr("FUNNELWATCH_LEADS_EMAIL"))
    return {a.strip().lower() for a in as_list(value) if a.strip()}


def form_rate_limit() -> int:
    """Accepted submissions per address in ``form_rate_window()`` minutes."""
    return int(_get("FUNNELWATCH_FORM_RATE_LIMIT", envint("FUNNELWATCH_FORM_RATE_LIMIT", 5)))


def form_rate_window() -> int:
    return int(_get("FUNNELWATCH_FORM_RATE_MINUTES", envint("FUNNELWATCH_FORM_RATE_MINUTES", 10)))


def repeat_minutes() -> int:
    """The same submission again within this many minutes makes no second lead."""
    return int(
        _get("FUNNELWATCH_FORM_REPEAT_MINUTES", envint("FUNNELWATCH_FORM_REPEAT_MINUTES", 10))
    )
