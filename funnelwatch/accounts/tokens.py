from __future__ import annotations

import functools
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from funnelwatch.accounts.models import ApiToken, Role, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str) -> str:
    """Create a token and return it; it is shown once and only its digest is kept."""
    token = "fw_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=_digest(token))
    return token


def _outside_api(user: User) -> bool:
    """Department staff (accounting, warehouse…) work on their requests in the pages;
    the API, which is about the sales department's records, is not theirs."""
    return user.role == Role.DEPARTMENT and not user.is_superuser


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        row = ApiToken.objects.select_related("user").filter(digest=_digest(token)).first()
        if row is None or not row.user.is_active or _outside_api(row.user):
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
        if user is None or not user.is_authenticated or _outside_api(user):
            return None
        return super().__call__(request)


# A bearer token (scripts; no CSRF: a browser never adds the header by itself), else a
# signed-in browser session with CSRF. Order matters: the token is tried first.
api_auth = [TokenAuth(), SessionAuth()]


def docs_access(view):
    """Wraps the API's documentation views (``/api/docs``, ``/api/openapi.json``): they list
    every operation, parameter and webhook of the installation, so only a signed-in user or
    a valid API token sees them, unless FUNNELWATCH_PUBLIC_API_DOCS opens them. Anyone else
    is sent to the login page (the JSON answers 401)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if (
            getattr(settings, "FUNNELWATCH_PUBLIC_API_DOCS", False)
            or request.user.is_authenticated
            or _bearer(request) is not None
        ):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            return JsonResponse({"detail": "Sign in or send an API token"}, status=401)
        return redirect_to_login(request.get_full_path())

    return guarded


def _bearer(request: HttpRequest) -> User | None:
    try:
        return TokenAuth()(request)
    except Exception:
        return None
