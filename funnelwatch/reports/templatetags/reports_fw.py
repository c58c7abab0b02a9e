from __future__ import annotations

import html
from decimal import Decimal

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from funnelwatch.core.templatetags.humanize_fw import (
    currency_money,
    currency_symbol,
    human_minutes,
    money,
)

register = template.Library()

# Units that are durations, as minutes per unit.
DURATIONS = {"minutes": 1, "days": 1440, "seconds": 1 / 60}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


@register.filter
def show(value: object, metric: object) -> str:
    """A metric's value for a table cell, by its unit: durations as "3 h 20 min" or
    "2 days 4 h", money with thousands separators and the currency, percentages with
    one decimal; an em dash when undefined."""
    if value is None:
        return "—"
    unit = getattr(metric, "unit", "")
    if unit == "money":
        return currency_money(value)
    if unit == "pct":
        return f"{float(value):.1f}%"
    if unit in DURATIONS:
        return human_minutes(float(value) * DURATIONS[unit])
    if unit in ("ratio", "score"):
        return f"{float(value):.1f}"
    if isinstance(value, float | Decimal):
        return _number(float(value))
    return str(value)


@register.filter
def signed(value: object, metric: object) -> str:
    """A change: "+12", "−3 h 10 min", "+4.5 pp" (percentage points, translated)."""
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    unit = getattr(metric, "unit", "")
    if unit == "pct":
        points = gettext("pp")  # percentage points
        return f"{sign}{abs(float(value)):.1f} {points}"
    return sign + show(abs(value), metric)


@register.filter
def cell(row: object, key: str) -> object:
    return row.cells.get(key)


def _row_query(context: template.Context, row: object) -> str:
    """The period's query string narrowed to the row's manager or team (escaped): the
    records behind a cell of that row."""
    query = conditional_escape(context.get("period_query", ""))
    if row.kind == "manager":
        return format_html("{}&manager={}", query, row.user.pk)
    if row.kind == "team":
        return format_html("{}&team={}", query, row.team.pk)
    return query


def _escape(value: object) -> str:
    """``django.utils.html.escape`` without its checks for lazy text (each cell's words
    are plain strings already): the same characters replaced the same way."""
    return html.escape(str(value))


class _Words:
    """What the cells of one table on a page share, looked up once per page rather than
    once or twice per cell (a department of 200 managers has thousands of cells): each
    metric's records link and label, and the translated words values and changes are
    written with. :meth:`value` writes a value as ``show`` does, :meth:`change` a change
    as ``signed`` does; both escape what they write."""

    def __init__(self, context: template.Context, metrics: list) -> None:
        self.links = {m.key: _escape(reverse("metrics:records", args=[m.key])) for m in metrics}
        self.labels = {m.key: _escape(m.label) for m in metrics}
        self.money = gettext("%(amount)s %(currency)s")
        self.currency = currency_symbol(settings.FUNNELWATCH_CURRENCY)
        self.points = gettext("pp")  # percentage points
        self.previous = _escape(
            gettext("against %(period)s") % {"period": context.get("previous_label", "")}
        )
        self.usual = gettext("far from the manager's usual (%(z)s robust deviations)")

    @classmethod
    def of(cls, context: template.Context, metrics: list) -> _Words:
        """The words of this table, made at its first row."""
        key = ("reports_fw.words", tuple(m.key for m in metrics))
        words = context.render_context.get(key)
        if words is None:
            words = context.render_context[key] = cls(context, metrics)
        return words

    def _text(self, value: object, metric: object) -> str:
        if value is not None and getattr(metric, "unit", "") == "money":
            text = money(value)
            if text == "—":
                return text
            return self.money % {"amount": text, "currency": self.currency}
        return show(value, metric)

    def value(self, value: object, metric: object) -> str:
        return _escape(self._text(value, metric))

    def change(self, value: object, metric: object) -> str:
        sign = "+" if value > 0 else "−" if value < 0 else "±"
        if getattr(metric, "unit", "") == "pct":
            return _escape(f"{sign}{abs(float(value)):.1f} {self.points}")
        return _escape(sign + self._text(abs(value), metric))


@register.simple_tag(takes_context=True)
def key_number_cells(context: template.Context, row: object, metrics: list) -> SafeString:
    """The cells of one row of the key-numbers table: each value linked to its records,
    with its change against the period it is compared with; the cell is coloured only
    when the value is far from the manager's own usual (``reports.trends``).

    Built here rather than with template tags per cell: a department of 200 managers has
    thousands of cells, and the links and words are the same for every row (:class:`_Words`).
    Every value is escaped; the links are ours.
    """
    words = _Words.of(context, metrics)
    query = _row_query(context, row)
    out = []
    for m in metrics:
        c = row.cells.get(m.key)
        title = ""
        if c.tone:
            far = words.usual % {"z": f"{getattr(c, 'z', None):+.1f}"}
            title = f' title="{_escape(far)}"'
        small = (
            f'<small title="{words.previous}">{words.change(c.change, m)}</small>'
            if c.change is not None
            else ""
        )
        out.append(
            f'<td class="num {_escape(c.tone)}"{title}><a href="{words.links[m.key]}?{query}">'
            f"{words.value(c.value, m)}</a>{small}</td>"
        )
    return mark_safe("".join(out))  # values escaped above


@register.simple_tag(takes_context=True)
def sales_cells(context: template.Context, row: object, metrics: list) -> SafeString:
    """The cells of one row of the sales table: each value linked to its records, with
    its change against the previous period (see ``key_number_cells`` for why here).
    Every value is escaped; the links are ours."""
    words = _Words.of(context, metrics)
    query = _row_query(context, row)
    out = []
    for m in metrics:
        c = row.cells.get(m.key)
        small = (
            f' <small class="{_escape(c.tone)}">{words.change(c.change, m)}</small>'
            if c.change is not None
            else ""
        )
        out.append(
            f'<td class="num"><a href="{words.links[m.key]}?{query}">'
            f"{words.value(c.value, m)}</a>{small}</td>"
        )
    return mark_safe("".join(out))  # values escaped above


@register.simple_tag(takes_context=True)
def key_number_fields(context: template.Context, row: object, metrics: list) -> SafeString:
    """The fields of one row's card (the phone layout of the key-numbers table): each
    metric's name, its value linked to its records, and its change. Built here for the
    reason :func:`key_number_cells` is."""
    words = _Words.of(context, metrics)
    query = _row_query(context, row)
    out = []
    for m in metrics:
        c = row.cells.get(m.key)
        small = f" <small>{words.change(c.change, m)}</small>" if c.change is not None else ""
        out.append(
            f'<dt>{words.labels[m.key]}</dt><dd class="{_escape(c.tone)}">'
            f'<a href="{words.links[m.key]}?{query}">{words.value(c.value, m)}</a>{small}</dd>'
        )
    return mark_safe("".join(out))  # values escaped above


@register.simple_tag
def sparkline(values: list, label: str = "") -> SafeString:
    """Eight weeks (and the current period) of a metric as a small line, drawn on the
    server as SVG: no script, nothing for the page to load."""
    points = [float(v) if v is not None else None for v in values or []]
    known = [v for v in points if v is not None]
    if len(known) < 2:
        return mark_safe("")
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    width, height, step = 80, 20, 80 / max(len(points) - 1, 1)
    coords = [
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(points)
        if v is not None
    ]
    last = coords[-1].split(",")
    return format_html(
        '<svg class="spark" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title><polyline points="{}"/>'
        '<circle cx="{}" cy="{}" r="2"/></svg>',
        width,
        height,
        width,
        height,
        label,
        label,
        " ".join(coords),
        last[0],
        last[1],
    )
