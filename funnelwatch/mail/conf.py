"""Settings of the mail app, read from the environment (see docs/mail.md)."""

from __future__ import annotations

from django.conf import settings

from funnelwatch.lib.env import envint, envsecret, envstr


def fernet_key() -> str:
    """The key mailbox passwords are encrypted with: settings/env, else generated once."""
    from funnelwatch.lib.env import stored_secret

    key = getattr(settings, "FUNNELWATCH_FERNET_KEY", "") or envsecret("FUNNELWATCH_FERNET_KEY")
    if key:
        return key
    # stored_secret makes url-safe base64 of 32 bytes: exactly a Fernet key.
    return stored_secret(settings.DATA_DIR, "fernet_key", nbytes=32)


def max_attachment_bytes() -> int:
    """Attachments bigger than this are not stored; the message keeps a note instead."""
    return getattr(
        settings,
        "FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES",
        envint("FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
    )


def max_message_bytes() -> int:
    """Messages bigger than this are fetched as headers and text only."""
    return getattr(
        settings,
        "FUNNELWATCH_MAIL_MAX_MESSAGE_BYTES",
        envint("FUNNELWATCH_MAIL_MAX_MESSAGE_BYTES", 40 * 1024 * 1024),
    )


def unanswered_hours() -> int:
    """A client's letter with no answer for longer than this counts as unanswered."""
    return getattr(
        settings,
        "FUNNELWATCH_MAIL_UNANSWERED_HOURS",
        envint("FUNNELWATCH_MAIL_UNANSWERED_HOURS", 24),
    )


def sync_minutes() -> int:
    return envint("FUNNELWATCH_MAIL_SYNC_MINUTES", 5)


def message_id_domain() -> str:
    """Domain of the Message-IDs of letters sent from the CRM."""
    return (
        getattr(settings, "FUNNELWATCH_MAIL_DOMAIN", envstr("FUNNELWATCH_MAIL_DOMAIN", ""))
        or "funnelwatch.local"
    )


def imap_timeout() -> int:
    return envint("FUNNELWATCH_MAIL_IMAP_TIMEOUT", 60)


def ca_file() -> str:
    """Extra CA certificates (PEM) to trust, for servers with a private certificate."""
    return getattr(settings, "FUNNELWATCH_MAIL_CA_FILE", envstr("FUNNELWATCH_MAIL_CA_FILE", ""))
