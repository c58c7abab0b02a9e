"""Filtering lists by segment (``?abc=A&xyz=X&lifecycle=sleeping``): the company list here,
and the CRM's deal and contact lists through :func:`by_segment`."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from funnelwatch.clients.models import Abc, Lifecycle, SegmentSnapshot, Xyz
from funnelwatch.core import params

FIELDS = {"abc": Abc, "xyz": Xyz, "lifecycle": Lifecycle}


def chosen(query: Mapping[str, str]) -> dict[str, str]:
    """The segment values asked for; a value that is not a segment is a 400 naming it."""
    out = {}
    for name, choices in FIELDS.items():
        value = params.text(query, name)
        if not value:
            continue
        if value not in choices.values:
            raise params.BadParameter(
                name, _("choose one of %(values)s.") % {"values": ", ".join(choices.values)}
            )
        out[name] = value
    return out


def by_segment(query: Mapping[str, str], qs: QuerySet, field: str = "company") -> QuerySet:
    """``qs`` narrowed to rows whose company is in the asked segments of the latest month."""
    wanted = chosen(query)
    if not wanted:
        return qs
    from funnelwatch.clients.queries import latest_month

    companies = SegmentSnapshot.objects.filter(month=latest_month(), **wanted).values("company_id")
    return qs.filter(**{f"{field}__in": companies})
