"""Login throttling (django-axes): too many wrong passwords lock the account and the address.

Failures are counted per username and per client address (FUNNELWATCH_TRUSTED_PROXIES
decides which address that is); at FUNNELWATCH_LOGIN_FAILURE_LIMIT within the lock-out
time either is locked for FUNNELWATCH_LOGIN_LOCKOUT_MINUTES, even with the right password,
and the login page says so (HTTP 429). A successful login clears that account's count.
Each lock-out is one audit event (on the user, when the name is one). Unlock before the
time is up with ``funnelwatch axes_reset_username NAME``, ``funnelwatch axes_reset_ip
ADDRESS`` or ``funnelwatch axes_reset`` (everyone), or by deleting the access attempt in the
admin. API tokens never go through a password login, so they are not throttled here.
"""

from __future__ import annotations

from types import SimpleNamespace

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from funnelwatch.audit import trail
from funnelwatch.audit.models import AuditEvent


def lockout_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The login page again, saying the login is locked and for how long."""
    context = {
        "locked_out": True,
        "lockout_minutes": lockout_minutes(),
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    return render(request, "registration/login.html", context, status=429)


class _LoginName:
    """A name someone tried to log in with that is no user, as the audit trail names it."""

    _meta = SimpleNamespace(label_lower="accounts.login")

    def __init__(self, username: str) -> None:
        self.pk = username[:40]

    def __str__(self) -> str:
        return self.pk


@receiver(user_locked_out, dispatch_uid="funnelwatch_audit_lockout")
def audit_lockout(
    sender: object, request: HttpRequest, username: str | None, ip_address: str | None, **kw
) -> None:
    """One audit event per lock-out: on the failure that reached the limit, not on every
    failure after it (axes signals each of those too)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures != settings.AXES_FAILURE_LIMIT:
        return
    from funnelwatch.accounts.models import User

    name = username or ""
    user = User.objects.filter(username=name).first() if name else None
    with trail.acting_as(None, source=AuditEvent.Source.SYSTEM, name="login throttling"):
        trail.record(
            user if user is not None else _LoginName(name),
            AuditEvent.Action.LOCKOUT,
            {
                "username": name,
                "ip_address": ip_address or "",
                "failures": failures,
                "minutes": lockout_minutes(),
            },
        )
