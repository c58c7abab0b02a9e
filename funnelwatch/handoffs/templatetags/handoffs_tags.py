from __future__ import annotations

from django import template

from funnelwatch.handoffs.forms import RequestForm

register = template.Library()


@register.simple_tag
def handoff_form() -> RequestForm:
    """The form a deal page asks a department with."""
    return RequestForm()
