from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.audit.trail import acting_as
from funnelwatch.plans.forms import PlanForm
from funnelwatch.plans.progress import plans_for, progress


def _may_set_plans(user) -> bool:
    return user.is_head or user.role == "team_lead"


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    rows = [progress(plan, today) for plan in plans_for(request.user, today)[:100]]
    return render(
        request,
        "plans/plan_list.html",
        {
            "rows": rows,
            "may_edit": _may_set_plans(request.user),
        },
    )


@login_required
def plan_create(request: HttpRequest) -> HttpResponse:
    if not _may_set_plans(request.user):
        raise PermissionDenied
    form = PlanForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        plan = form.save(commit=False)
        plan.created_by = request.user
        with acting_as(request.user):
            plan.save()
        messages.success(request, _("Plan saved."))
        return redirect("plans:list")
    return render(request, "plans/plan_form.html", {"form": form})
