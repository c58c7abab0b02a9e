from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import can_see_user, visible_user_ids
from funnelwatch.audit.trail import acting_as
from funnelwatch.core.params import BadParameter
from funnelwatch.motivation import board as boards
from funnelwatch.motivation import exports, payouts
from funnelwatch.motivation.models import Scheme


def may_see_payouts(user: User) -> bool:
    """Money is for the people it concerns and those who lead them: not the reviewers."""
    return user.is_superuser or user.role in (Role.HEAD, Role.ADMIN, Role.TEAM_LEAD, Role.MANAGER)


def _guard(user: User) -> None:
    if not may_see_payouts(user):
        raise PermissionDenied


def _month(value: str | None, name: str = "month") -> dt.date:
    if not value:
        return payouts.month_start(timezone.localdate())
    try:
        return payouts.parse_month(value)
    except ValueError:
        raise BadParameter(name, _("enter a month as YYYY-MM.")) from None


def _months_around(month: dt.date) -> dict:
    prev = (month - dt.timedelta(days=1)).replace(day=1)
    return {"prev": f"{prev:%Y-%m}", "next": f"{payouts.next_month(month):%Y-%m}"}


def source_links(source: list[str], month: dt.date, manager_id: int) -> list[dict]:
    """Each source id as a label and, where there is one, the page that shows it."""
    out = []
    for item in source:
        kind, _sep, ref = item.partition(":")
        url = None
        if kind == "deal" and ref.isdigit():
            url = reverse("crm:deal", args=[int(ref)])
        elif kind == "plan":
            url = reverse("plans:list")
        elif kind == "metric":
            query = urlencode({"period": "month", "date": month.isoformat(), "manager": manager_id})
            url = f"{reverse('metrics:records', args=[ref])}?{query}"
        elif kind == "scheme":
            url = reverse("motivation:schemes")
        out.append({"label": item, "url": url})
    return out


@login_required
@require_safe
def statements(request: HttpRequest) -> HttpResponse:
    _guard(request.user)
    month = _month(request.GET.get("month"))
    rows = payouts.payouts(month, visible_user_ids(request.user))
    return render(
        request,
        "motivation/statements.html",
        {
            "month": month,
            "rows": rows,
            "total": sum((p.total for p in rows), 0),
            "may_export": request.user.is_head,
            **_months_around(month),
        },
    )


def _visible_manager(request: HttpRequest, manager_id: int) -> User:
    _guard(request.user)
    if not can_see_user(request.user, manager_id):
        raise Http404
    return get_object_or_404(payouts.payees(), pk=manager_id)


@login_required
@require_safe
def statement(request: HttpRequest, manager_id: int, month: str) -> HttpResponse:
    manager = _visible_manager(request, manager_id)
    first = _month(month)
    result = payouts.payout(manager, first)
    lines = [
        {
            "line": line,
            "kind": payouts.KIND_LABELS.get(line.kind, line.kind),
            "sources": source_links(line.source, first, manager.pk),
        }
        for line in result.lines
    ]
    may_approve = (
        request.user.is_head
        and not result.approved
        and result.scheme is not None
        and first < payouts.month_start(timezone.localdate())
    )
    return render(
        request,
        "motivation/statement.html",
        {
            "p": result,
            "lines": lines,
            "month": first,
            "may_approve": may_approve,
        },
    )


@login_required
@require_POST
def approve(request: HttpRequest, manager_id: int, month: str) -> HttpResponse:
    if not request.user.is_head:
        raise PermissionDenied
    manager = _visible_manager(request, manager_id)
    first = _month(month)
    try:
        payouts.approve(manager, first, request.user)
    except payouts.PayoutError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Statement approved."))
    return redirect("motivation:statement", manager_id=manager.pk, month=f"{first:%Y-%m}")


@login_required
@require_safe
def export(request: HttpRequest) -> HttpResponse:
    if not request.user.is_head:
        raise PermissionDenied
    month = _month(request.GET.get("month"))
    fmt = request.GET.get("format") or "csv"
    if fmt not in ("csv", "xlsx"):
        raise BadParameter("format", _("csv or xlsx."))
    found = [p for p in payouts.payouts(month) if p.scheme_name or p.lines]
    data = exports.to_csv(found) if fmt == "csv" else exports.to_xlsx(found, month)
    with acting_as(request.user):
        exports.audit_export(found, month, fmt)
    response = HttpResponse(data, content_type=exports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="payouts-{month:%Y-%m}.{fmt}"'
    return response


@login_required
@require_safe
def schemes(request: HttpRequest) -> HttpResponse:
    _guard(request.user)
    items = Scheme.objects.prefetch_related(
        "tiers", "kpi_bonuses", "assignments__manager", "assignments__team"
    )
    if not request.user.is_head:
        mine = payouts.scheme_for(request.user, payouts.month_start(timezone.localdate()))
        ids = visible_user_ids(request.user) or set()
        teams = set(User.objects.filter(pk__in=ids).values_list("team_id", flat=True))
        items = (
            items.filter(pk__in=[mine.pk] if mine else [])
            | items.filter(assignments__manager_id__in=ids)
            | items.filter(assignments__team_id__in=teams)
        )
        items = items.distinct()
    from funnelwatch.metrics import registry

    labels = {m.key: m.label for m in registry.all_metrics()}
    return render(request, "motivation/schemes.html", {"schemes": items, "metric_labels": labels})


@login_required
@require_safe
def board(request: HttpRequest) -> HttpResponse:
    month = _month(request.GET.get("month"))
    return render(
        request,
        "motivation/board.html",
        {"month": month, "board": boards.best_in_block(month), **_months_around(month)},
    )
