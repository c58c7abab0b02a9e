from __future__ import annotations

from decimal import Decimal

from django import template

from funnelwatch.core.templatetags.humanize_fw import money

register = template.Library()


@register.filter
def show(value: object, metric: object) -> str:
    """A metric's value for a table cell, by its unit; an em dash when undefined."""
    if value is None:
        return "—"
    unit = getattr(metric, "unit", "")
    if unit == "money":
        return money(value)
    if unit == "pct":
        return f"{float(value):.1f}%"
    if unit in ("days", "minutes", "seconds", "ratio", "score"):
        return f"{float(value):.1f}"
    if isinstance(value, float | Decimal) and value != int(value):
        return f"{float(value):.1f}"
    return str(int(value)) if isinstance(value, float | Decimal) else str(value)


@register.filter
def signed(value: object, metric: object) -> str:
    if value is None:
        return ""
    text = show(abs(value), metric)
    if getattr(metric, "unit", "") == "pct":
        text = text.rstrip("%") + " pp"
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


@register.filter
def cell(row: object, key: str) -> object:
    return row.cells.get(key)
