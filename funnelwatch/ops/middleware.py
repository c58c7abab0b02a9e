"""The request id (see :mod:`funnelwatch.ops.logs`) and the request counters of /metrics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from funnelwatch.ops import logs, prom

# What a proxy's id may look like: no spaces or control characters, no log injection.
SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
WEBHOOKS = "/api/telephony/webhooks/"
HEALTHZ = "/healthz"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        rid = given if SANE_ID.match(given) else uuid.uuid4().hex
        request.request_id = rid
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        try:
            if request.path_info == HEALTHZ:
                # Load balancers probe by address: answered before the host is checked
                # against ALLOWED_HOSTS, with no session, cookie or redirect to https.
                from funnelwatch.ops.views import healthz

                response = healthz(request)
            else:
                response = self.get_response(request)
        finally:
            logs.request_id.reset(token)
        response["X-Request-ID"] = rid
        prom.observe_request(request, response, time.perf_counter() - started)
        if request.path_info.startswith(WEBHOOKS) and request.method != "GET":
            prom.observe_webhook(request.path_info[len(WEBHOOKS) :], response.status_code)
        return response
