from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from funnelwatch.accounts.models import Role, Team
from funnelwatch.accounts.visibility import visible_user_ids
from funnelwatch.alerts import attention, digests, queries, services
from funnelwatch.alerts import forecast as forecasting
from funnelwatch.alerts import messages as texts
from funnelwatch.alerts import morning as agenda
from funnelwatch.alerts.forms import ReviewForm, RuleSettingsForm, SnoozeForm
from funnelwatch.alerts.models import DigestCopy, Kind, RuleSettings, Status
from funnelwatch.audit.trail import acting_as
from funnelwatch.core import params
from funnelwatch.crm.queries import deals_for
from funnelwatch.lib.dates import Period, local_date

LEADERS = (Role.HEAD, Role.TEAM_LEAD, Role.ADMIN)


def _require_leader(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.role in LEADERS):
        raise PermissionDenied


def _today() -> dt.date:
    return local_date(timezone.now(), timezone.get_current_timezone())


def decorate(alerts: list) -> list:
    """Each alert's sentence in the reader's language, and its links."""
    for alert in alerts:
        alert.text = texts.render(alert.kind, alert.numbers)
        alert.links = texts.links(alert.kind, alert.numbers, alert.manager_id)
    return alerts


def may_resolve(user) -> bool:
    """Whether the list offers "resolve" (the service decides per alert)."""
    return user.is_superuser or user.role in LEADERS


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    """Open alerts grouped by manager and ranked (see ``attention``); other statuses too."""
    status = request.GET.get("status", Status.OPEN)
    kind = request.GET.get("kind", "")
    alerts = queries.alerts_for(
        request.user,
        status if status in Status.values else None,
        kind if kind in Kind.values else None,
    )
    return render(
        request,
        "alerts/alert_list.html",
        {
            "groups": attention.rank(alerts[:500]),
            "status": status,
            "kind": kind,
            "statuses": Status.choices,
            "kinds": Kind.choices,
            "snooze_form": SnoozeForm(),
            "can_snooze": request.user.is_head,
            "can_resolve": may_resolve(request.user),
            "here": request.get_full_path(),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the list the form was sent from (an address on this site only)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("alerts:list")


@login_required
@require_POST
def snooze(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = get_object_or_404(deals_for(request.user), pk=deal_id)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        if not request.user.is_head:
            raise PermissionDenied
        messages.error(request, _("Give a reason and a day."))
        return _back(request)
    try:
        services.snooze_deal(deal, actor=request.user, **form.cleaned_data)
    except services.AlertError as exc:
        if not request.user.is_head:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The deal is snoozed."))
    return _back(request)


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve an alert (with the other alerts on its deal) from the list."""
    alert = get_object_or_404(queries.alerts_for(request.user), pk=pk)
    if alert.resolved_at is not None:
        messages.info(request, _("The alert was already resolved."))
        return _back(request)
    try:
        done = services.resolve_alert(alert, actor=request.user)
    except services.AlertError as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(
        request,
        ngettext("%(n)s alert resolved.", "%(n)s alerts resolved.", len(done)) % {"n": len(done)},
    )
    return _back(request)


def _period(request: HttpRequest) -> Period:
    days = params.whole_number(request.GET, "days", default=30, low=1, high=366)
    today = _today()
    return Period(today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1))


@login_required
def lost_review(request: HttpRequest) -> HttpResponse:
    _require_leader(request)
    period = _period(request)
    pending = list(queries.lost_to_review(request.user, period))
    calls = queries.calls_per_deal([d.pk for d in pending])
    for deal in pending:
        deal.calls_count = calls.get(deal.pk, 0)
    return render(
        request,
        "alerts/lost.html",
        {
            "pending": pending,
            "reviews": queries.reviews(request.user, period)[:200],
            "summary": queries.lost_summary(request.user, period),
            "period": period,
            "calls": calls or queries.call_model() is not None,
            "form": ReviewForm(),
            "days": period.days - 1,
        },
    )


@login_required
@require_POST
def review(request: HttpRequest, deal_id: int) -> HttpResponse:
    _require_leader(request)
    deal = get_object_or_404(deals_for(request.user), pk=deal_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.review_lost(deal, actor=request.user, **form.cleaned_data)
        except services.AlertError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Review saved."))
    return redirect("alerts:lost")


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    rows = forecasting.forecast_for(request.user)
    forecasting.attach_plans(rows, _today())
    return render(
        request,
        "alerts/forecast.html",
        {
            "rows": rows,
            "buckets": forecasting.BUCKETS,
            "horizon": forecasting.HORIZON_DAYS,
            "prior_strength": forecasting.PRIOR_STRENGTH,
        },
    )


@login_required
def digest_list(request: HttpRequest) -> HttpResponse:
    copies = DigestCopy.objects.filter(recipient=request.user).only(
        "pk", "kind", "day", "subject", "sent_at", "error"
    )[:60]
    about_me = []
    if request.user.role == Role.MANAGER:
        for kind in (DigestCopy.DigestKind.DAILY, DigestCopy.DigestKind.WEEKLY):
            copy, row = digests.row_about(request.user, kind)
            if copy and row:
                about_me.append(
                    {
                        "copy": copy,
                        "rows": [row],
                        "columns": row["cells"],
                        "weekly": kind == DigestCopy.DigestKind.WEEKLY,
                    }
                )
    return render(request, "alerts/digest_list.html", {"copies": copies, "about_me": about_me})


@login_required
def digest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    copy = get_object_or_404(DigestCopy, pk=pk)
    visible = visible_user_ids(request.user)
    if copy.recipient_id != request.user.pk and not (visible is None and request.user.is_head):
        raise PermissionDenied
    return render(request, "alerts/digest_detail.html", {"copy": copy})


@login_required
def morning(request: HttpRequest) -> HttpResponse:
    _require_leader(request)
    page = agenda.build(request.user, timezone.now())
    return render(
        request,
        "alerts/morning.html",
        {
            "page": page,
            "groups": attention.rank(page.attention),
            "can_snooze": request.user.is_head,
            "can_resolve": may_resolve(request.user),
            "here": request.get_full_path(),
        },
    )


@login_required
def thresholds(request: HttpRequest) -> HttpResponse:
    """The head edits the rules' thresholds: the company default and any team's own."""
    if not request.user.is_head:
        raise PermissionDenied
    team_id = params.object_id(request.GET, "team") or params.object_id(request.POST, "team")
    team = get_object_or_404(Team, pk=team_id) if team_id else None
    current = RuleSettings.objects.filter(team=team).first()
    if current is None:
        base = RuleSettings.objects.filter(team=None).first() if team else None
        current = RuleSettings(team=team)
        if base:  # a team starts from the company default
            for f in RuleSettings._meta.concrete_fields:
                if f.name not in ("id", "team"):
                    setattr(current, f.attname, getattr(base, f.attname))
    form = RuleSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        with acting_as(request.user):
            form.save()
        messages.success(request, _("Thresholds saved."))
        return redirect(f"{request.path}?team={team.pk if team else ''}")
    return render(
        request,
        "alerts/thresholds.html",
        {
            "form": form,
            "team": team,
            "teams": Team.objects.all(),
            "customised": set(RuleSettings.objects.values_list("team_id", flat=True)),
        },
    )
