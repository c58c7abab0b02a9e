from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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


def human_minutes(minutes: float | int | None) -> str:
    """A duration in minutes as people say it: "45 min", "3 h 20 min", "2 days 4 h"."""
    if minutes is None:
        return "—"
    total = round(float(minutes))
    if total < 60:
        return _("%(m)s min") % {"m": total}
    hours, mins = divmod(total, 60)
    if hours < 24:
        if mins == 0:
            return _("%(h)s h") % {"h": hours}
        return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    days, hours = divmod(hours, 24)
    text = ngettext("%(d)s day", "%(d)s days", days) % {"d": days}
    return text if hours == 0 else _("%(days)s %(h)s h") % {"days": text, "h": hours}


@register.filter
def minutes(value: object) -> str:
    return "—" if value in (None, "") else human_minutes(float(value))  # type: ignore[arg-type]


def working_minutes(total: float | int, day_hours: int) -> str:
    """Working time as people say it: "40 min", "5 h 10 min", "3 days 4 h", where a day is
    a working day, ``day_hours`` long (the sentence around it says "of working time")."""
    total = round(float(total))
    if total < 60:
        return _("%(m)s min") % {"m": total}
    hours, mins = divmod(total, 60)
    if hours < day_hours or day_hours <= 0:
        if mins == 0:
            return _("%(h)s h") % {"h": hours}
        return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    days, hours = divmod(hours, day_hours)
    text = ngettext("%(d)s day", "%(d)s days", days) % {"d": days}
    return text if hours == 0 else _("%(days)s %(h)s h") % {"days": text, "h": hours}


def currency_money(value: object) -> str:
    """Money with thousands separators and the currency, as the reader's language writes
    it: "1 234 568 ₮" / "1 234 568 MNT"."""
    from django.conf import settings

    text = money(value)
    if text == "—":
        return text
    return _("%(amount)s %(currency)s") % {
        "amount": text,
        "currency": currency_symbol(settings.FUNNELWATCH_CURRENCY),
    }


def currency_symbol(code: str) -> str:
    return {"MNT": "₮", "RUB": "₽", "USD": "$", "EUR": "€"}.get(code, code)


@register.filter
def cash(value: object) -> str:
    return currency_money(value)
