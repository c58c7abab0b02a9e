"""Mailbox passwords at rest: Fernet (AES + HMAC) with the key from :func:`fernet_key`."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def fernet_key() -> str:
    """The key mailbox passwords are encrypted with: ``FUNNELWATCH_FERNET_KEY``, else one
    generated once into the data folder."""
    from funnelwatch.lib.env import stored_secret

    if settings.FUNNELWATCH_FERNET_KEY:
        return settings.FUNNELWATCH_FERNET_KEY
    # stored_secret makes url-safe base64 of 32 bytes: exactly a Fernet key.
    return stored_secret(settings.DATA_DIR, "fernet_key", nbytes=32)


class SecretError(Exception):
    """A stored secret cannot be read with the current key."""


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    key = key.strip()
    key += "=" * (-len(key) % 4)  # a generated key is stored without base64 padding
    return Fernet(key.encode())


def encrypt(plain: str) -> str:
    return _fernet(fernet_key()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(fernet_key()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError("the mailbox password cannot be decrypted with the current key") from None
