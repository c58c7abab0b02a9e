from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def span(value: float | dt.timedelta | None) -> str:
    """A length of time, short: 40 s, 12 min, 3 h, 2 d."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 120:
        return _("%(n)d s") % {"n": round(seconds)}
    if seconds < 7200:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    if seconds < 172800:
        return _("%(n)d h") % {"n": round(seconds / 3600)}
    return _("%(n)d d") % {"n": round(seconds / 86400)}


@register.filter
def state_label(state: str) -> str:
    return {"ok": _("OK"), "warn": _("needs attention"), "fail": _("failing")}.get(state, state)


@register.filter
def state_class(state: str) -> str:
    return {"ok": "good", "warn": "warn", "fail": "bad"}.get(state, "")
