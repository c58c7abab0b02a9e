from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def cents(value: object) -> str:
    """1234567.5 -> '1 234 567.50': money to the cent, as statements add it up."""
    if value in (None, ""):
        return "—"
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{number:,.2f}".replace(",", "\u202f")
