"""A manager's key numbers over a period, read from the metric registry."""

from __future__ import annotations

from django.conf import settings

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import registry

# Shown in digests and on the morning page, in this order, when the metric is defined.
KEY_METRICS = (
    "crm_actions",
    "calls_out",
    "calls_connected",
    "talk_minutes",
    "missed_in",
    "leads_received",
    "proposals_sent",
    "meetings_held",
    "won_count",
    "won_amount",
    "lost_count",
    "tasks_done",
    "tasks_overdue",
)


def available() -> list[registry.Metric]:
    known = {m.key: m for m in registry.all_metrics()}
    return [known[k] for k in KEY_METRICS if k in known]


def values(period: Period, manager_ids: set[int]) -> dict[int, dict[str, object]]:
    """manager id -> metric key -> value over the period, from the metric engine."""
    from funnelwatch.metrics.engine import group_values

    keys = [m.key for m in available()]
    if not keys or not manager_ids:
        return {m: {} for m in manager_ids}
    source = "rollup" if settings.FUNNELWATCH_ALERTS_METRIC_SOURCE == "rollup" else "raw"
    return group_values(keys, period, {m: {m} for m in manager_ids}, source=source)


def display(value: object, unit: str) -> str:
    if value is None:
        return "—"
    value = float(value)  # type: ignore[arg-type]
    if unit == "money":
        return f"{value:,.0f}".replace(",", " ")
    if unit == "pct":
        return f"{value:.0f}%"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
