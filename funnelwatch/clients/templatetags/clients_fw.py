from __future__ import annotations

from django import template

from funnelwatch.clients.models import Abc, Lifecycle, Xyz

register = template.Library()


@register.inclusion_tag("clients/_segment_filter.html", takes_context=True)
def segment_filter(context: template.Context) -> dict:
    """The ABC, XYZ and lifecycle selects of a list's filter form, keeping the current values."""
    request = context["request"]
    return {
        "selects": [
            ("abc", "ABC", Abc.choices, request.GET.get("abc", "")),
            ("xyz", "XYZ", Xyz.choices, request.GET.get("xyz", "")),
            ("lifecycle", None, Lifecycle.choices, request.GET.get("lifecycle", "")),
        ]
    }
