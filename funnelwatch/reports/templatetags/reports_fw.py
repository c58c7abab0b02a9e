from __future__ import annotations

from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

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


@register.simple_tag(takes_context=True)
def key_number_cells(context: template.Context, row: object, blocks: list) -> SafeString:
    """The cells of one row of the key-numbers table: each value linked to its records,
    its change against the previous period and against the row's 4-week baseline.

    Built here rather than with template tags per cell: a department of 200 managers has
    ~10,000 cells, and the links and labels are the same for every row.
    """
    shared = context.render_context.get("key_number_cells")
    if shared is None:
        metrics = [m for _block, _label, ms in blocks for m in ms]
        shared = context.render_context["key_number_cells"] = {
            "links": {m.key: reverse("metrics:records", args=[m.key]) for m in metrics},
            "previous": gettext("against the previous period"),
            "baseline": gettext("against the 4-week baseline"),
            "base": gettext("base"),
        }
    query = conditional_escape(context.get("period_query", ""))
    if row.kind == "manager":
        query = format_html("{}&manager={}", query, row.user.pk)
    elif row.kind == "team":
        query = format_html("{}&team={}", query, row.team.pk)
    out = []
    for _block, _label, ms in blocks:
        for m in ms:
            c = row.cells.get(m.key)
            change = c.change
            vs_baseline = c.vs_baseline
            out.append(
                format_html(
                    '<td class="num">\n<a href="{}?{}">{}</a>\n{}\n{}\n</td>',
                    shared["links"][m.key],
                    query,
                    show(c.value, m),
                    format_html(
                        '<small class="{}" title="{}">{}</small>',
                        c.tone,
                        shared["previous"],
                        signed(change, m),
                    )
                    if change is not None
                    else "",
                    format_html(
                        '<small class="{}" title="{}: {}">{} {}</small>',
                        c.baseline_tone,
                        shared["baseline"],
                        show(c.baseline, m),
                        shared["base"],
                        signed(vs_baseline, m),
                    )
                    if vs_baseline is not None
                    else "",
                )
            )
    return mark_safe("".join(out))  # every part went through format_html
