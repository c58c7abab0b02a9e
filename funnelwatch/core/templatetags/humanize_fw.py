from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def money(value: object) -> str:
    """1234567.5 -> '1 234 568' (thin spaces between thousands, no decimals)."""
    if value in (None, ""):
        return "—"
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{number:,.0f}".replace(",", "\u202f")


@register.filter
def duration_days(value: dt.timedelta | None) -> str:
    if value is None:
        return "—"
    days = value.total_seconds() / 86400
    if days >= 1:
        return _("%(d).1f days") % {"d": days}
    return _("%(h).1f hours") % {"h": value.total_seconds() / 3600}
