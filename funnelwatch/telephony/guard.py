"""Which addresses may send a provider's webhooks.

A signature proves who wrote an event, but some providers sign little of it (Zadarma
signs three fields of a call's notification), and a refused request still costs parsing
and a signature check. With FUNNELWATCH_WEBHOOK_ALLOWED_IPS_<PROVIDER> set (addresses and
networks, comma-separated) a request from anywhere else is answered 403 before anything
else happens, and logged. The sender's address is ``REMOTE_ADDR``, or the client in
``X-Forwarded-For`` when the request came through a proxy in FUNNELWATCH_TRUSTED_PROXIES
(:func:`funnelwatch.lib.addresses.client_ip`).

Both the webhook fast path (:mod:`funnelwatch.telephony.middleware`), which refuses before
the view is resolved, and every webhook view apply it, so it holds whichever way the
request arrives.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest

from funnelwatch.lib.addresses import client_ip, in_networks, parse_address

logger = logging.getLogger("funnelwatch.telephony.webhooks")

# The first path segment under /api/telephony/webhooks/ -> the provider it belongs to.
PROVIDER_BY_SEGMENT = {
    "twilio": "twilio",
    "zadarma": "zadarma",
    "mango": "mango",
    "calls": "generic",
}


def allowed_ips_setting(provider: str) -> str:
    return f"FUNNELWATCH_WEBHOOK_ALLOWED_IPS_{provider.upper()}"


def allowed_networks(provider: str) -> tuple:
    """Addresses and networks that may send this provider's webhooks; empty = anyone
    (the signature is then the only check)."""
    from funnelwatch.lib.addresses import networks

    name = allowed_ips_setting(provider)
    return networks(getattr(settings, name, []), name)


def refusal(request: HttpRequest, provider: str) -> str | None:
    """Why this request may not send ``provider``'s webhooks, or None when it may."""
    allowed = allowed_networks(provider)
    if not allowed:
        return None
    address = client_ip(request)
    if in_networks(parse_address(address), allowed):
        return None
    setting = allowed_ips_setting(provider)
    logger.warning(
        "refused a %s webhook from %s (%s): not in %s",
        provider,
        address or "an unknown address",
        request.path_info,
        setting,
    )
    return f"{address or 'this address'} may not send {provider} webhooks"
