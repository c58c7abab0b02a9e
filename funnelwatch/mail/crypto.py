"""Mailbox passwords at rest: Fernet (AES + HMAC) with the key from :func:`conf.fernet_key`."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from funnelwatch.mail import conf


class SecretError(Exception):
    """A stored secret cannot be read with the current key."""


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    key = key.strip()
    key += "=" * (-len(key) % 4)  # a generated key is stored without base64 padding
    return Fernet(key.encode())


def encrypt(plain: str) -> str:
    return _fernet(conf.fernet_key()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(conf.fernet_key()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretError("the mailbox password cannot be decrypted with the current key") from None
