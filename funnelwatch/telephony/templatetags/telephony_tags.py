from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import template
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from funnelwatch.telephony import queries

register = template.Library()


@register.simple_tag(takes_context=True)
def calls_timeline(context, deal=None, contact=None, limit: int = 50):
    """Calls of a deal or contact the viewer may see, newest first."""
    request = context.get("request")
    if request is None:
        return []
    qs = queries.calls_for(request.user)
    if deal:
        qs = qs.filter(deal=deal)
    elif contact:
        qs = qs.filter(contact=contact)
    else:
        return []
    return list(qs.order_by("-started_at", "-pk")[:limit])


@register.filter
def minsec(seconds) -> str:
    try:
        seconds = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    return f"{seconds // 60}:{seconds % 60:02d}"


def _linker(name: str) -> Callable[[int], str]:
    """reverse(name, args=[pk]) for many pks at the cost of one reverse: the pk is the only
    part of the URL that differs."""
    sentinel = "2147483647"
    head, tail = reverse(name, args=[int(sentinel)]).split(sentinel)
    return lambda pk: f"{head}{int(pk)}{tail}"


def _when(moment: dt.datetime) -> str:
    return date_filter(template_localtime(moment), "Y-m-d H:i")


@register.simple_tag
def missed_open_rows(rows: list, over_sla: str) -> SafeString:
    """The rows of the missed calls not yet returned (up to 500: built here, not by the
    template engine per cell)."""
    call_link, contact_link = _linker("telephony:call"), _linker("crm:contact")
    out = []
    for row in rows:
        call = row.call
        contact = (
            format_html('<a href="{}">{}</a>', contact_link(call.contact_id), call.contact)
            if call.contact
            else ""
        )
        out.append(
            format_html(
                '<tr{}>\n<td><a href="{}">{}</a></td>\n<td>{}</td>\n<td>{}</td>\n'
                '<td>{}</td><td>{}</td>\n<td class="num">{}{}</td></tr>\n',
                mark_safe(' class="bad"') if row.overdue else "",
                call_link(call.pk),
                _when(call.started_at),
                call.from_number or call.from_raw,
                contact,
                call.manager or "—",
                row.who or "—",
                row.waited_minutes,
                format_html(' <span class="badge lost">{}</span>', over_sla) if row.overdue else "",
            )
        )
    return mark_safe("".join(out))  # every part went through format_html


@register.simple_tag
def missed_returned_rows(rows: list) -> SafeString:
    call_link = _linker("telephony:call")
    return mark_safe(  # every part went through format_html
        "".join(
            format_html(
                '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td>'
                '<td class="num {}">{}</td></tr>\n',
                call_link(row.call.pk),
                _when(row.call.started_at),
                row.call.from_number or row.call.from_raw,
                row.who or "—",
                "bad" if row.overdue else "good",
                row.waited_minutes,
            )
            for row in rows
        )
    )
