"""The REST API root: each app contributes a router from its ``api.py``. Docs at /api/docs."""

from __future__ import annotations

from ninja import NinjaAPI

from funnelwatch.accounts.tokens import api_auth, docs_access

api = NinjaAPI(
    title="Funnelwatch API",
    version="1",
    auth=api_auth,
    docs_decorator=docs_access,  # signed-in users only, unless FUNNELWATCH_PUBLIC_API_DOCS
    description="Deals, calls, metrics and alerts of a sales department. "
    "Authenticate with a browser session or `Authorization: Bearer <token>` "
    "(`funnelwatch createtoken USERNAME`). PBX webhooks carry their own signatures.",
)


def _mount() -> None:
    from funnelwatch.alerts.api import router as alerts
    from funnelwatch.crm.api import router as crm
    from funnelwatch.mail.api import router as mail
    from funnelwatch.metrics.api import router as metrics
    from funnelwatch.quality.api import router as quality
    from funnelwatch.telephony.api import router as telephony

    api.add_router("/crm", crm)
    api.add_router("/metrics", metrics)
    api.add_router("/telephony", telephony)
    api.add_router("/mail", mail)
    api.add_router("/quality", quality)
    api.add_router("/alerts", alerts)


_mount()
