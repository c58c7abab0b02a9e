from __future__ import annotations

from django import template

from funnelwatch.telephony import queries

register = template.Library()


@register.simple_tag(takes_context=True)
def calls_timeline(context, deal=None, contact=None, limit: int = 50):  # noqa: ANN001, ANN201
    """Calls of a deal or contact the viewer may see, newest first."""
    request = context.get("request")
    if request is None:
        return []
    qs = queries.calls_for(request.user)
    if deal:
        qs = qs.filter(deal=deal)
    elif contact:
        qs = qs.filter(contact=contact)
    else:
        return []
    return list(qs.order_by("-started_at", "-pk")[:limit])


@register.filter
def minsec(seconds) -> str:  # noqa: ANN001
    try:
        seconds = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    return f"{seconds // 60}:{seconds % 60:02d}"
