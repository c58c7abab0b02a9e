"""The REST API root: each app contributes a router from its ``api.py``. Docs at /api/docs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from funnelwatch.accounts.tokens import api_auth, docs_access


class LocalSwagger(Swagger):
    """Swagger UI served from the product's own static files. Ninja's page loads it from
    a CDN (ninja is not an installed app here), which left /api/docs blank wherever the
    browser could not reach that CDN, and sent every visit to a third party."""

    template = "api/docs.html"
    # No badge asking validator.swagger.io about our schema.
    default_settings = {**Swagger.default_settings, "validatorUrl": None}

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        # Sessions are checked for CSRF (django_auth): "Try it out" sends the token.
        add_csrf = any(getattr(a, "csrf", False) for a in api.auth or ())
        context = {"swagger_settings": settings, "api": api, "add_csrf": add_csrf}
        return render(request, self.template, context)


api = NinjaAPI(
    title="Funnelwatch API",
    version="1",
    auth=api_auth,
    docs=LocalSwagger(),
    docs_decorator=docs_access,  # signed-in users only, unless FUNNELWATCH_PUBLIC_API_DOCS
    description="Deals, calls, metrics and alerts of a sales department. "
    "Authenticate with a browser session or `Authorization: Bearer <token>` "
    "(`funnelwatch createtoken USERNAME`). PBX webhooks carry their own signatures.",
)


def _mount() -> None:
    from funnelwatch.alerts.api import router as alerts
    from funnelwatch.crm.api import router as crm
    from funnelwatch.mail.api import router as mail
    from funnelwatch.quality.api import router as quality
    from funnelwatch.reports.api import router as metrics
    from funnelwatch.telephony.api import router as telephony

    api.add_router("/crm", crm)
    api.add_router("/metrics", metrics)
    api.add_router("/telephony", telephony)
    api.add_router("/mail", mail)
    api.add_router("/quality", quality)
    api.add_router("/alerts", alerts)


_mount()
