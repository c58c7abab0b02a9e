"""/healthz for load balancers, the status page for the head, /ops/metrics for Prometheus,
and the recording retention an administrator sets."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from funnelwatch.accounts.models import Role
from funnelwatch.audit.trail import acting_as
from funnelwatch.ops import health, prom
from funnelwatch.ops.forms import RetentionForm
from funnelwatch.ops.models import RecordingRetention
from funnelwatch.ops.version import version


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 ``{"status": "ok"}`` or ``{"status": "degraded"}`` while the database answers, 503
    ``{"status": "unavailable"}`` when it does not. ``?strict=1`` answers 503 when degraded
    too (for monitors that read only the code). Anonymous, and it names no detail: the
    status page has them."""
    try:
        problems = health.health_problems() if health.database_ok() else None
    except DatabaseError:
        problems = None
    strict = request.GET.get("strict", "").lower() in ("1", "true", "yes")
    if problems is None:
        response = JsonResponse({"status": "unavailable"}, status=503)
    else:
        status = "degraded" if problems else "ok"
        response = JsonResponse({"status": status}, status=503 if problems and strict else 200)
    # An answer, not a server error: no error line in the log at every probe.
    response._has_been_logged = True
    return response


def _may_see(user) -> bool:
    return user.is_head


def _may_set_retention(user) -> bool:
    return user.is_superuser or user.role == Role.ADMIN


@login_required
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    if not _may_see(request.user):
        raise PermissionDenied
    report = health.report()
    retention = RecordingRetention.current()
    return render(
        request,
        "ops/status.html",
        {
            "report": report,
            "version": version(),
            "stale_seconds": settings.FUNNELWATCH_HEARTBEAT_STALE_SECONDS,
            "retention": retention,
            "retention_form": RetentionForm(instance=retention)
            if _may_set_retention(request.user)
            else None,
        },
    )


@login_required
@require_POST
def retention(request: HttpRequest) -> HttpResponse:
    if not _may_set_retention(request.user):
        raise PermissionDenied(_("Only an administrator can change how long recordings are kept."))
    current = RecordingRetention.current()
    form = RetentionForm(request.POST, instance=current)
    if not form.is_valid():
        for error in form.errors.get("months", []):
            messages.error(request, error)
        return redirect("ops:status")
    with transaction.atomic(), acting_as(request.user):
        setting = form.save(commit=False)
        setting.updated_at = timezone.now()
        setting.save()
    if setting.months:
        messages.success(
            request,
            _("Recordings older than %(n)d months will be deleted; the calls are kept.")
            % {"n": setting.months},
        )
    else:
        messages.success(request, _("Recordings are kept for ever."))
    return redirect("ops:status")


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: ``Authorization: Bearer <FUNNELWATCH_METRICS_TOKEN>``. Without
    the setting the page does not exist."""
    token = settings.FUNNELWATCH_METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = JsonResponse({"detail": "a bearer token is needed"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="funnelwatch metrics"'
        return response
    body, content_type = prom.exposition()
    return HttpResponse(body, content_type=content_type)
