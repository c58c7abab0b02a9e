from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from funnelwatch.accounts.visibility import crm_writer_required, may_change_crm
from funnelwatch.clients import filters, queries, segments, services
from funnelwatch.clients.models import Lifecycle, SegmentRun, SegmentSnapshot
from funnelwatch.core import params
from funnelwatch.core.paging import BoundedPaginator
from funnelwatch.crm import queries as crm_queries
from funnelwatch.crm.models import Outcome
from funnelwatch.lib.dates import day_start


def _may_recompute(user) -> bool:
    return user.is_head


def _month(request: HttpRequest, name: str = "month") -> dt.date | None:
    """``YYYY-MM`` from the query string, else the latest month with snapshots."""
    value = params.text(request.GET, name)
    if not value:
        return queries.latest_month()
    try:
        month = dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise params.BadParameter(name, _("enter a month as YYYY-MM.")) from None
    return params.check_day(name, month)


def _period(request: HttpRequest, default_days: int) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    first = params.day(request.GET, "from") or today - dt.timedelta(days=default_days)
    last = params.day(request.GET, "to") or today
    if last < first:
        raise params.BadParameter("to", _("the end comes before the start."))
    return first, last


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return day_start(first, tz), day_start(last + dt.timedelta(days=1), tz)


@login_required
def client_base(request: HttpRequest) -> HttpResponse:
    month = _month(request)
    snaps = queries.snapshots_for(request.user, month)
    return render(
        request,
        "clients/base.html",
        {
            "month": month,
            "months": queries.months()[:24],
            "matrix": queries.matrix(snaps),
            "lifecycles": queries.lifecycle_counts(snaps),
            "movement": queries.movement(request.user, month) if month else None,
            "last_run": SegmentRun.objects.first(),
            "may_recompute": _may_recompute(request.user),
            "limits": segments.Thresholds.from_settings(),
        },
    )


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    month = _month(request)
    wanted = filters.chosen(request.GET)
    snaps = queries.snapshots_for(request.user, month).filter(**wanted)
    q = params.text(request.GET, "q")
    if q:
        snaps = snaps.filter(company__name__icontains=q)
    page = BoundedPaginator(snaps.order_by("-revenue", "company__name"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "clients/company_list.html",
        {"page": page, "month": month, "q": q, "wanted": wanted},
    )


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(queries.companies_for(request.user), pk=pk)
    history = list(SegmentSnapshot.objects.filter(company=company).select_related("manager"))
    latest = history[0] if history else None
    return render(
        request,
        "clients/company_detail.html",
        {
            "company": company,
            "history": history[:24],
            "latest": latest,
            "contacts": crm_queries.contacts_for(request.user).filter(company=company),
            "deals": crm_queries.deals_for(request.user)
            .filter(company=company)
            .select_related("owner", "stage")
            .order_by("-created_at")[:50],
            "may_wake": latest is not None
            and latest.lifecycle in services.WAKEABLE
            and may_change_crm(request.user),
        },
    )


@login_required
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    if not _may_recompute(request.user):
        raise PermissionDenied
    run = segments.store(timezone.localdate(), by=request.user)
    messages.success(
        request,
        _("Segments computed for %(n)s companies as of %(day)s.")
        % {"n": run.companies, "day": run.as_of.isoformat()},
    )
    return redirect("clients:base")


@login_required
@require_POST
@crm_writer_required
def wake_up(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(queries.companies_for(request.user), pk=pk)
    latest = SegmentSnapshot.objects.filter(company=company).order_by("-month").first()
    # The task goes to the client's manager: only someone who sees that manager may set it.
    if latest is None or not (
        queries.snapshots_for(request.user, latest.month).filter(pk=latest.pk).exists()
    ):
        raise Http404
    task, created = services.wake_up(latest, actor=request.user)
    if task is None:
        messages.error(request, _("Only a sleeping or lost client is woken up."))
    elif created:
        messages.success(request, _("Task created for %(who)s.") % {"who": task.assignee})
    else:
        messages.info(request, _("A wake-up task for this client is already open."))
    nxt = request.POST.get("next", "")
    if nxt.startswith("/") and not nxt.startswith("//"):
        return redirect(nxt)
    return redirect("clients:company", pk=company.pk)


@login_required
def retention(request: HttpRequest) -> HttpResponse:
    first, last = _period(request, 365)
    start, end = _bounds(first, last)
    month = queries.latest_month()
    return render(
        request,
        "clients/retention.html",
        {
            "first": first,
            "last": last,
            "data": queries.retention(request.user, start, end, month),
            "sleeping": queries.sleeping_clients(request.user, month)[:200],
            "may_wake": may_change_crm(request.user),
            "lifecycle_sleeping": Lifecycle.SLEEPING,
        },
    )


@login_required
def reasons(request: HttpRequest) -> HttpResponse:
    first, last = _period(request, 90)
    start, end = _bounds(first, last)
    outcome = params.text(request.GET, "kind", Outcome.LOST)
    if outcome not in (Outcome.LOST, Outcome.JUNK):
        raise params.BadParameter("kind", _("choose lost or junk."))
    group = params.text(request.GET, "group", "manager")
    if group not in queries.GROUPS:
        raise params.BadParameter("group", _("choose manager, stage or month."))
    return render(
        request,
        "clients/reasons.html",
        {
            "first": first,
            "last": last,
            "kind": outcome,
            "group": group,
            "data": queries.reasons(request.user, start, end, outcome, group),
        },
    )
