from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_users
from funnelwatch.audit import trail
from funnelwatch.core import params
from funnelwatch.core.paging import BoundedPaginator
from funnelwatch.lib import dates
from funnelwatch.telephony import missed, queries, recordings, routing
from funnelwatch.telephony.models import CallOutcome, Direction, Recording, RoutingRule


@login_required
def call_list(request: HttpRequest) -> HttpResponse:
    calls = queries.calls_for(request.user)
    g = request.GET
    manager = params.object_id(g, "manager")
    if manager is not None:
        calls = calls.filter(manager_id=manager)
    if g.get("direction") in Direction.values:
        calls = calls.filter(direction=g["direction"])
    if g.get("outcome") in CallOutcome.values:
        calls = calls.filter(outcome=g["outcome"])
    tz = timezone.get_current_timezone()
    if start := params.day(g, "from"):
        calls = calls.filter(started_at__gte=dates.day_start(start, tz))
    if end := params.day(g, "to"):
        calls = calls.filter(started_at__lt=dates.day_start(end + dt.timedelta(days=1), tz))
    page = BoundedPaginator(calls.order_by("-started_at", "-pk"), 50).get_page(g.get("page"))
    return render(
        request,
        "telephony/call_list.html",
        {
            "page": page,
            "managers": visible_users(request.user),
            "manager": str(manager or ""),
            "directions": Direction.choices,
            "outcomes": CallOutcome.choices,
            "f": g,
        },
    )


@login_required
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(queries.with_legs(queries.calls_for(request.user)), pk=pk)
    can_listen = queries.calls_for(request.user, own_only=True).filter(pk=call.pk).exists()
    return render(
        request,
        "telephony/call_detail.html",
        {
            "call": call,
            "recording": getattr(call, "recording", None),
            "can_listen": can_listen,
            "history": trail.history(call)[:50],
        },
    )


def _recording(request: HttpRequest, pk: int) -> Recording:
    call = get_object_or_404(queries.calls_for(request.user, own_only=True), pk=pk)
    rec = Recording.objects.filter(call=call, status=Recording.Status.STORED).first()
    if rec is None or not rec.file:
        raise Http404(_("This call has no stored recording."))
    return rec


@login_required
@require_safe
def recording_play(request: HttpRequest, pk: int) -> HttpResponse:
    """Served and recorded as a play by ``recordings.serve``."""
    return recordings.serve(request, _recording(request, pk))


@login_required
@require_safe
def recording_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Served and recorded as a download by ``recordings.serve``."""
    return recordings.serve(request, _recording(request, pk), as_attachment=True)


@login_required
def missed_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "telephony/missed.html",
        {
            "open": missed.unreturned(request.user, now),
            "returned": missed.returned(request.user, now - dt.timedelta(days=14)),
            "sla": settings.FUNNELWATCH_CALL_SLA_MINUTES,
        },
    )


def _head_only(user: User) -> None:
    if not user.is_head:
        raise PermissionDenied(_("Only the head of sales can change this."))


@login_required
def routing_settings(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_head or request.user.role == Role.TEAM_LEAD):
        raise PermissionDenied
    users = list(visible_users(request.user).filter(role=Role.MANAGER))
    rules = {r.user_id: r for r in RoutingRule.objects.filter(user__in=users)}
    rows = [{"user": u, "rule": rules.get(u.pk)} for u in users]
    tz = timezone.get_current_timezone()
    today = dates.local_date(timezone.now(), tz)
    days = params.whole_number(request.GET, "days", default=7, low=1, high=366)
    since = dates.day_start(today - dt.timedelta(days=days - 1), tz)
    until = dates.day_start(today + dt.timedelta(days=1), tz)
    ids = {u.pk for u in users} | {request.user.pk}
    report = [
        r for r in routing.report(since, until) if request.user.is_head or r["user_id"] in ids
    ]
    return render(
        request,
        "telephony/routing.html",
        {
            "rows": rows,
            "report": report,
            "days": days,
            "can_edit": request.user.is_head,
        },
    )


# Upper limits of the routing form: far above any real department, within the columns.
MAX_WEIGHT = 1000
MAX_DAILY_CAP = 100_000


@login_required
@require_POST
def routing_save(request: HttpRequest) -> HttpResponse:
    """Every manager's row is checked before any is saved: one bad row saves nothing."""
    _head_only(request.user)
    rules = {}
    for user in User.objects.filter(role=Role.MANAGER, is_active=True):
        prefix = f"u{user.pk}_"
        if prefix + "weight" not in request.POST:
            continue
        try:
            weight = max(int(request.POST[prefix + "weight"] or 1), 0)
            cap_raw = request.POST.get(prefix + "cap", "").strip()
            cap = int(cap_raw) if cap_raw else None
            start = int(request.POST.get(prefix + "start") or 9)
            end = int(request.POST.get(prefix + "end") or 18)
        except ValueError:
            messages.error(request, _("%(user)s: enter whole numbers.") % {"user": user})
            return redirect("telephony:routing")
        if weight > MAX_WEIGHT or (cap is not None and not 0 <= cap <= MAX_DAILY_CAP):
            messages.error(
                request,
                _("%(user)s: the weight can be up to %(weight)s, the daily cap 0 to %(cap)s.")
                % {"user": user, "weight": MAX_WEIGHT, "cap": MAX_DAILY_CAP},
            )
            return redirect("telephony:routing")
        if not (0 <= start < end <= 24):
            messages.error(
                request,
                _("%(user)s: working hours must be within 0–24 and end after they start.")
                % {"user": user},
            )
            return redirect("telephony:routing")
        rules[user] = {
            "active": bool(request.POST.get(prefix + "active")) and weight > 0,
            "weight": max(weight, 1),
            "daily_cap": cap,
            "start_hour": start,
            "end_hour": end,
        }
    with transaction.atomic(), trail.acting_as(request.user):
        for user, defaults in rules.items():
            RoutingRule.objects.update_or_create(user=user, defaults=defaults)
    messages.success(request, _("Routing saved."))
    return redirect("telephony:routing")


@login_required
def integrations(request: HttpRequest) -> HttpResponse:
    _head_only(request.user)
    base = request.build_absolute_uri("/api/telephony/")
    hooks = [
        (
            "Twilio",
            _("status callback"),
            base + "webhooks/twilio/status",
            "FUNNELWATCH_TWILIO_AUTH_TOKEN",
            settings.FUNNELWATCH_TWILIO_AUTH_TOKEN,
        ),
        (
            "Twilio",
            _("recording status callback"),
            base + "webhooks/twilio/recording",
            "FUNNELWATCH_TWILIO_AUTH_TOKEN",
            settings.FUNNELWATCH_TWILIO_AUTH_TOKEN,
        ),
        (
            "Zadarma",
            _("notifications (NOTIFY_*)"),
            base + "webhooks/zadarma",
            "FUNNELWATCH_ZADARMA_SECRET",
            settings.FUNNELWATCH_ZADARMA_SECRET,
        ),
        (
            "Mango Office",
            _("events base URL"),
            base + "webhooks/mango/",
            "FUNNELWATCH_MANGO_API_KEY / FUNNELWATCH_MANGO_SALT",
            " / ".join(
                filter(None, [settings.FUNNELWATCH_MANGO_API_KEY, settings.FUNNELWATCH_MANGO_SALT])
            ),
        ),
        (
            "Funnelwatch JSON",
            _("signed JSON webhook"),
            base + "webhooks/calls",
            "FUNNELWATCH_CALLS_WEBHOOK_SECRET",
            settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET,
        ),
        (
            "PBX routing",
            _("whom to ring (GET ?number=)"),
            base + "route",
            "FUNNELWATCH_ROUTE_TOKEN",
            settings.FUNNELWATCH_ROUTE_TOKEN,
        ),
    ]
    return render(
        request,
        "telephony/integrations.html",
        {
            "hooks": hooks,
            "docs": request.build_absolute_uri("/api/docs"),
            "import_cmd": "funnelwatch import-calls /var/log/asterisk/cdr-csv/Master.csv "
            "--format asterisk-csv --follow",
            "reveal": request.GET.get("reveal") == "1",
            "reveal_url": reverse("telephony:integrations") + "?reveal=1",
        },
    )
