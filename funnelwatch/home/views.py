from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from funnelwatch.accounts.models import Role
from funnelwatch.alerts.views import may_resolve
from funnelwatch.home import today
from funnelwatch.reports import trends


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone's first page: the head and team leads see their people ranked by what needs
    attention, a manager their own warnings, tasks and callbacks, a reviewer the day."""
    user = request.user
    page = today.build(user)
    return render(
        request,
        "home/home.html",
        {
            "page": page,
            "leader": user.is_superuser or user.role in (Role.HEAD, Role.TEAM_LEAD, Role.ADMIN),
            "manager": user.role == Role.MANAGER,
            "reviewer": user.role == Role.REVIEWER,
            "can_snooze": user.is_head,
            "can_resolve": may_resolve(user),
            "here": request.get_full_path(),
            "z_large": trends.Z_LARGE,
        },
    )
