"""A short path through the middleware for PBX webhooks.

Webhooks are signed machine-to-machine calls: they carry no session, user, language or
CSRF cookie, yet the full middleware stack (sessions, auth, messages, locale, CSRF,
clickjacking, the audit actor) cost a fifth of a webhook request. Placed right after
``SecurityMiddleware``, this hands requests under ``/api/telephony/webhooks/`` straight
to their view (the django-ninja operation, which still validates the body against the
documented schema and whose handlers check the signatures); every other request goes
through the stack as before. A sender outside the provider's allowed addresses
(:mod:`funnelwatch.telephony.guard`) is answered 403 here, before its view is resolved.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from funnelwatch.telephony import guard

PREFIX = "/api/telephony/webhooks/"


class WebhookFastPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        segment = request.path_info[len(PREFIX) :].split("/", 1)[0]
        provider = guard.PROVIDER_BY_SEGMENT.get(segment)
        if provider is not None:
            refused = guard.refusal(request, provider)
            if refused:
                return JsonResponse({"detail": refused}, status=403)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if not response.streaming and not response.has_header("Content-Length"):
            # What CommonMiddleware adds: lets the PBX keep its connection open.
            response.headers["Content-Length"] = str(len(response.content))
        return response
