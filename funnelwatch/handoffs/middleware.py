"""Department staff see the requests addressed to them, and nothing else.

People of accounting, the warehouse or legal sign in to take and finish requests; the
sales department's pages (deals, calls, letters, numbers) are not theirs. Rather than
each page refusing them, this middleware lets them reach only their own pages, and
answers 403 to everything else. The API refuses them on its own (no session or token
of theirs is accepted: ``accounts.tokens``)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from funnelwatch.accounts.models import Role

# Pages open to them: their requests, their calendar, and the pages every account uses.
ALLOWED_NAMESPACES = {"handoffs", "calendar", "admin"}  # the admin checks staff itself
ALLOWED_NAMES = {"login", "logout", "set_language", "favicon", "healthz", "ops:metrics"}


def is_department_staff(user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and user.role == Role.DEPARTMENT
        and not user.is_superuser
    )


class DepartmentStaffMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_department_staff(request.user):
            try:
                match = resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            if match.view_name == "home":
                return redirect("handoffs:list")
            allowed = (
                match.view_name in ALLOWED_NAMES
                or match.namespace in ALLOWED_NAMESPACES
                or (match.view_name.startswith("api-1:") and "openapi" not in match.view_name)
                # Public endpoints (web forms, messenger and PBX webhooks) read no session:
                # they answer a signed-in clerk as they answer anyone.
                or getattr(match.func, "csrf_exempt", False)
            )
            if not allowed:
                raise PermissionDenied
        return self.get_response(request)
