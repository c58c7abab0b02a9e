"""Settings of hand-offs, notifications and click-to-call (all from the environment,
read in ``funnelwatch/settings.py``; defaults here)."""

from __future__ import annotations

from django.conf import settings


def telegram_api_base() -> str:
    """The Bot API's address (a local stand-in in tests)."""
    return getattr(settings, "FUNNELWATCH_TELEGRAM_API_BASE", "https://api.telegram.org").rstrip(
        "/"
    )


def telegram_token() -> str:
    return getattr(settings, "FUNNELWATCH_TELEGRAM_BOT_TOKEN", "")


def ami() -> dict:
    """Asterisk Manager Interface: host, port, user, secret, context, timeout; empty host
    means click-to-call is off."""
    return {
        "host": getattr(settings, "FUNNELWATCH_AMI_HOST", ""),
        "port": int(getattr(settings, "FUNNELWATCH_AMI_PORT", 5038)),
        "username": getattr(settings, "FUNNELWATCH_AMI_USERNAME", ""),
        "secret": getattr(settings, "FUNNELWATCH_AMI_SECRET", ""),
        "context": getattr(settings, "FUNNELWATCH_AMI_CONTEXT", "from-internal"),
        "channel": getattr(settings, "FUNNELWATCH_AMI_CHANNEL", "PJSIP/{extension}"),
        "timeout": float(getattr(settings, "FUNNELWATCH_AMI_TIMEOUT", 10)),
    }
