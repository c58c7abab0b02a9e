from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from funnelwatch.core import navigation


def navigation_items(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    items = navigation.items_for(user, request.path) if user and user.is_authenticated else []
    return {"nav_items": items, "currency": settings.FUNNELWATCH_CURRENCY}
