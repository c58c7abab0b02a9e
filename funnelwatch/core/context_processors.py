from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from funnelwatch.accounts.visibility import may_change_crm
from funnelwatch.core import navigation


def navigation_items(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    items = navigation.items_for(user, request.path) if user and user.is_authenticated else []
    return {
        "nav_items": items,
        "currency": settings.FUNNELWATCH_CURRENCY,
        "language_names_local": settings.LANGUAGE_NAMES_LOCAL,
        # Controls that change the CRM or letters are shown only to those who may use them.
        "may_write_crm": bool(user and may_change_crm(user)),
    }
