from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The head starts at the key-numbers table (once it exists), everyone else at the board."""
    candidates = ["crm:board"]
    if request.user.role in ("head", "team_lead", "admin"):
        candidates.insert(0, "metrics:key_numbers")
    for name in candidates:
        try:
            return redirect(reverse(name))
        except NoReverseMatch:
            continue
    return redirect("crm:deals")


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("funnelwatch/favicon.svg"))
