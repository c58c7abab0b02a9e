from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from funnelwatch.accounts.visibility import visible_users
from funnelwatch.audit.trail import acting_as
from funnelwatch.core import params
from funnelwatch.plans.forms import PlanForm
from funnelwatch.plans.models import PlanStep
from funnelwatch.plans.progress import plans_for, progress


def _may_set_plans(user) -> bool:
    return user.is_head or user.role == "team_lead"


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    plans = plans_for(request.user, today).prefetch_related("steps__owner")[:100]
    rows = [progress(plan, today) for plan in plans]
    may_edit = _may_set_plans(request.user)
    for row in rows:
        for step in row.plan.steps.all():
            step.may_update = may_edit or step.owner_id == request.user.pk
    return render(
        request,
        "plans/plan_list.html",
        {
            "rows": rows,
            "may_edit": may_edit,
            "owners": visible_users(request.user) if may_edit else [],
        },
    )


def _visible_plan(user, plan_id: int):
    plan = plans_for(user, timezone.localdate()).filter(pk=plan_id).first()
    if plan is None:
        raise Http404
    return plan


@login_required
@require_POST
def step_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    """A step of a plan: head of sales and team leads, for the plans they see."""
    plan = _visible_plan(request.user, plan_id)
    if not _may_set_plans(request.user):
        raise PermissionDenied
    title = request.POST.get("title", "").strip()
    resources = request.POST.get("resources", "").strip()
    owner_id = params.object_id(request.POST, "owner")
    owner = visible_users(request.user).filter(pk=owner_id or 0).first()
    due = params.day(request.POST, "due_date")
    problem = None
    if not title or len(title) > 200:
        problem = _("Say what the step is (up to 200 characters).")
    elif len(resources) > 300:
        problem = _("Resources: up to 300 characters.")
    elif owner is None:
        problem = _("Choose who owns the step.")
    elif due is None:
        problem = _("Give the step's due date.")
    if problem:
        messages.error(request, problem)
        return redirect("plans:list")
    with acting_as(request.user):
        PlanStep.objects.create(
            plan=plan, title=title, resources=resources, owner=owner, due_date=due
        )
    messages.success(request, _("Step added."))
    return redirect("plans:list")


@login_required
@require_POST
def step_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The step's progress: its owner, or whoever sets plans."""
    step = get_object_or_404(PlanStep, pk=pk)
    _visible_plan(request.user, step.plan_id)
    if not (_may_set_plans(request.user) or step.owner_id == request.user.pk):
        raise PermissionDenied
    value = params.whole_number(request.POST, "progress", default=-1, low=0, high=100)
    if value < 0:
        messages.error(request, _("Give the progress from 0 to 100."))
        return redirect("plans:list")
    step.progress_pct = value
    with acting_as(request.user):
        step.save(update_fields=["progress_pct"])
    messages.success(request, _("Progress saved."))
    return redirect("plans:list")


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
