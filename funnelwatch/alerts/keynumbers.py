"""A manager's key numbers over a period, read from the metric registry."""

from __future__ import annotations

from collections import defaultdict

from funnelwatch.alerts.stats import median
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


def combine(metric: registry.Metric, points: list) -> float | None:
    """One period value from a metric's points, by the registry's rule for its kind."""
    if not points:
        return 0.0 if metric.kind == "sum" else None
    if metric.kind == "sum":
        return sum(float(p.value) for p in points)
    if metric.kind in ("ratio", "mean"):
        weight = sum(p.weight for p in points)
        if not weight:
            return None
        value = sum(float(p.value) for p in points) / weight
        return value * 100 if metric.unit == "pct" else value
    if metric.kind == "median":
        return median([float(p.value) for p in points])
    return float(max(points, key=lambda p: p.day).value)  # live: the latest state


def values(period: Period, manager_ids: set[int]) -> dict[int, dict[str, float | None]]:
    """manager id -> metric key -> value over the period."""
    out: dict[int, dict[str, float | None]] = {m: {} for m in manager_ids}
    for metric in available():
        by_manager = defaultdict(list)
        for point in metric.compute(period, manager_ids):
            by_manager[point.manager_id].append(point)
        for manager_id in manager_ids:
            out[manager_id][metric.key] = combine(metric, by_manager.get(manager_id, []))
    return out


def display(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "money":
        return f"{value:,.0f}".replace(",", " ")
    if unit == "pct":
        return f"{value:.0f}%"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
