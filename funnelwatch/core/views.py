from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views import defaults

from funnelwatch.core.params import BadParameter


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
