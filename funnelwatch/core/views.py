from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.views import defaults

from funnelwatch.core.params import BadParameter


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


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page. A query-string value a page cannot use is named with what is wrong
    with it, so the visitor can correct the address; any other bad request gets Django's
    own page, which tells nothing about the request."""
    if isinstance(exception, BadParameter):
        return render(
            request,
            "400.html",
            {"field": exception.field, "message": exception.message},
            status=400,
        )
    return defaults.bad_request(request, exception)


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("funnelwatch/favicon.svg"))
