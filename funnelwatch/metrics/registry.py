"""The metric registry: every number the product shows is one ``Metric`` defined once.

Apps define their metrics in ``<app>/metrics.py`` by calling :func:`register`; the
registry imports those modules when Django starts (``MetricsConfig.ready``). Pages, the
API, exports, digests and alerts all read this registry, so adding a metric is one
definition.

How a metric is computed
------------------------
``compute(period, manager_ids)`` reads raw records and returns ``Point`` rows, one per
(manager, local day) contribution, for local days in ``period`` and, when
``manager_ids`` is not None, only for those managers. How points combine over a period
depends on ``kind``:

- ``sum``:    period value = sum(value)                       (counts, money, minutes)
- ``ratio``:  period value = sum(value) / sum(weight)         (shares: numerator/denominator;
              ``pct`` units are multiplied by 100) — None when the denominator is 0
- ``mean``:   period value = sum(value) / sum(weight)         (averages of samples)
- ``median``: every point is one sample; period value = median of the samples
- ``live``:   a state "now" (stalled deals, overdue tasks); not rolled up, ``compute``
              is called with the period ending today and returns one point per manager.
- ``period``: a value that is not a sum over days (distinct clients, growth against the
              previous period); not rolled up: ``period_values(period, groups)`` answers
              for whole groups of managers at once.

Because sums, numerators/denominators and samples are stored (never daily medians or
daily percentages), any period's value is exact.

``records(period, manager_ids)`` returns the queryset of records behind the number,
for drill-down. How a drill-down lists each kind of record (the time of the event the
number counted, the person, the deal, the page that shows the record) is declared once
per model with :func:`record_shape`, by the app that owns the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet

from funnelwatch.lib.dates import Period

BLOCKS = (
    "intake",
    "proposal",
    "objections",
    "closing",
    "daily",
    "tasks",
    "sales",
    "telephony",
    "quality",
    "mail",
    "handoffs",
)
KINDS = ("sum", "ratio", "mean", "median", "live", "period")
# Kinds whose points are stored in the daily rollups.
ROLLED_KINDS = ("sum", "ratio", "mean", "median")
UNITS = ("count", "money", "pct", "minutes", "seconds", "days", "ratio", "score")


@dataclass(frozen=True)
class Point:
    manager_id: int
    day: date
    value: float | Decimal
    weight: float = 1.0


Compute = Callable[[Period, "set[int] | None"], Iterable[Point]]
# Records behind a number: a queryset, or a list when they come from several tables.
Records = Callable[[Period, "set[int] | None"], "QuerySet | list"]
# For ``period`` metrics: {group key: manager ids, None = everyone} -> {group key: value}.
PeriodValues = Callable[[Period, "dict[object, set[int] | None]"], "dict[object, object]"]


@dataclass(frozen=True)
class Metric:
    key: str
    block: str
    label: str  # a gettext_lazy string
    unit: str
    kind: str
    compute: Compute
    good: str = "up"  # "up", "down" or "none": which direction of change is good
    records: Records | None = None
    description: str = ""
    # Other metrics whose raw records this one depends on (for the docs and the UI).
    tags: tuple[str, ...] = field(default_factory=tuple)
    period_values: PeriodValues | None = None
    # CRM event kinds (``crm_event``'s ``kind``) that can change this metric's rollups, so
    # an event recomputes only what it can change; None: every event.
    refresh_on: tuple[str, ...] | None = None
    # For ``period`` metrics: True when the raw records behind the value change only with
    # events that rebuild the rollups of the days they are dated on (a win, a deal's
    # amount), so the value may be reused like rollup answers.
    reuse_with_rollups: bool = False

    @property
    def rolled(self) -> bool:
        return self.kind in ROLLED_KINDS

    def __post_init__(self) -> None:
        if self.block not in BLOCKS:
            raise ValueError(f"metric {self.key}: unknown block {self.block!r}")
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.key}: unknown kind {self.kind!r}")
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.key}: unknown unit {self.unit!r}")
        if self.good not in ("up", "down", "none"):
            raise ValueError(f"metric {self.key}: good must be up, down or none")
        if self.kind == "period" and self.period_values is None:
            raise ValueError(f"metric {self.key}: a period metric needs period_values")


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric; a second definition with the same key replaces the first
    (an app may refine a metric another app registered, e.g. telephony making
    ``speed_to_first_call`` use real calls)."""
    _REGISTRY[metric.key] = metric
    return metric


def get(key: str) -> Metric:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}") from None


def all_metrics() -> list[Metric]:
    """Every metric, in block order (then in the order they were registered)."""
    return sorted(_REGISTRY.values(), key=lambda m: BLOCKS.index(m.block))


def rolled_metrics() -> list[Metric]:
    return [m for m in all_metrics() if m.rolled]


def by_block(block: str) -> list[Metric]:
    return [m for m in _REGISTRY.values() if m.block == block]


@dataclass(frozen=True)
class RecordShape:
    """How a drill-down lists one kind of record.

    Attribute paths are dotted (``"recording.call.started_at"``); ``""`` is the record
    itself (a deal's deal). ``when``: paths of the event's own time, the first one set
    wins (a call's start, a letter's date, a stay's end; never when it was imported);
    ``who``: the person the number credits, the first one set (a user or a user's id).
    """

    when: tuple[str, ...]
    who: tuple[str, ...] | str | None = None
    deal: str | None = None
    contact: str | None = None
    # The record's own page (or its deal's): a URL or None.
    link: Callable[[object], str | None] | None = None
    label: Callable[[object], object] | None = None
    detail: Callable[[object], object] | None = None
    # Relations to read with the records, so a page of 500 rows costs a few queries.
    related: tuple[str, ...] = ()


_SHAPES: dict[type, RecordShape] = {}


def record_shape(model: type, shape: RecordShape) -> None:
    _SHAPES[model] = shape


def shape_of(model: type) -> RecordShape | None:
    return _SHAPES.get(model)


def attr(obj: object, path: str) -> object:
    """``obj``'s value at a dotted attribute path (``""``: ``obj``); None past a None."""
    if not path:
        return obj
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def link_to(url_name: str, path: str = "pk") -> Callable[[object], str | None]:
    """A ``RecordShape.link``: the page ``url_name`` of the id at ``path``."""
    from django.urls import reverse

    def link(obj: object) -> str | None:
        value = attr(obj, path)
        return None if value is None else reverse(url_name, args=[value])

    return link


# --- the span of the recorded history -------------------------------------------------
#
# ``funnelwatch rollups rebuild|verify`` without dates cover the whole history: from the
# first recorded event to the last. The kernel knows no domain table, so each domain
# names the span of its own records.

Span = Callable[[], "tuple[datetime | None, datetime | None]"]
_SPANS: list[Span] = []


def history_span(func: Span) -> Span:
    """Register ``func() -> (first moment or None, last moment or None)`` of a domain's
    records (usable as a decorator)."""
    if func not in _SPANS:
        _SPANS.append(func)
    return func


def history_spans() -> list[Span]:
    return list(_SPANS)
