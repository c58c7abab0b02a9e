from __future__ import annotations

import hashlib
import secrets

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from funnelwatch.accounts.models import ApiToken, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str) -> str:
    """Create a token and return it; it is shown once and only its digest is kept."""
    token = "fw_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=_digest(token))
    return token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        row = ApiToken.objects.select_related("user").filter(digest=_digest(token)).first()
        if row is None or not row.user.is_active:
            return None
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        return row.user


class SessionAuth(NinjaSessionAuth):
    """A signed-in browser session, whose writes must carry the CSRF token.

    django-ninja checks CSRF before it looks for a session, and a failed check ends the
    authentication: a script's token write and an anonymous write were both refused with
    "CSRF check Failed". CSRF protects the cookies a browser sends on its own, so it is
    checked here only when there is a signed-in session to protect; without one this
    scheme simply does not apply (an anonymous caller gets 401).
    """

    def __call__(self, request: HttpRequest) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super().__call__(request)


# A bearer token (scripts; no CSRF: a browser never adds the header by itself), else a
# signed-in browser session with CSRF. Order matters: the token is tried first.
api_auth = [TokenAuth(), SessionAuth()]
