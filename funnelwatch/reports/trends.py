"""Is a change large for *this* manager? A robust z-score against their own recent past.

A manager's value over a period is compared with their values over the same kind of
window in the eight weeks before it: for a period of up to a week, the same days of each
of the 8 previous weeks (Monday–Wednesday against the Mondays–Wednesdays before); for a
longer period, the 8 windows of the same length just before it.

    z = (value − median(history)) / scale,   scale = max(1.4826 × MAD(history), 10% of |median|)

MAD is the median absolute deviation; 1.4826 × MAD estimates the standard deviation of
a normal spread and is not moved by one odd week. The 10% floor keeps a manager whose
weeks were all alike (MAD 0) from turning every small wobble into a large change. A
change is *large* when |z| ≥ ``Z_LARGE`` (2.5): only those cells are coloured, green or
red by whether the metric's direction is good. At least ``MIN_HISTORY`` windows with a
value are needed; otherwise nothing is coloured.

Only metrics kept in the daily rollups take part (live and whole-period metrics have no
history worth reading week by week).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry
from funnelwatch.metrics.registry import Metric

WEEKS = 8
Z_LARGE = 2.5
MIN_HISTORY = 4
FLOOR = 0.1


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def robust_z(value: object, history: list[object]) -> float | None:
    """``value`` against ``history`` in robust deviations (see the module's docstring)."""
    if value is None:
        return None
    past = [float(v) for v in history if v is not None]  # type: ignore[arg-type]
    if len(past) < MIN_HISTORY:
        return None
    middle = median(past)
    mad = median([abs(v - middle) for v in past])
    scale = max(1.4826 * mad, FLOOR * abs(middle))
    if scale == 0:
        return None
    return (float(value) - middle) / scale  # type: ignore[arg-type]


def windows(period: Period) -> list[Period]:
    """The history windows of ``period``, oldest first."""
    step = 7 if period.days <= 7 else period.days
    return [
        Period(period.start - dt.timedelta(days=step * k), period.end - dt.timedelta(days=step * k))
        for k in range(WEEKS, 0, -1)
    ]


def history(
    metrics: list[Metric], period: Period, groups: dict[object, set[int] | None]
) -> dict[object, dict[str, list[object]]]:
    """group -> metric key -> the values over each history window (oldest first)."""
    keys = [m.key for m in metrics if m.rolled]
    out: dict[object, dict[str, list[object]]] = {g: {k: [] for k in keys} for g in groups}
    if not keys or not groups:
        return out
    for window in windows(period):
        values = engine.group_values(keys, window, groups)
        for g in groups:
            for k in keys:
                out[g][k].append(values[g].get(k))
    return out


@dataclass(frozen=True)
class Change:
    metric: Metric
    value: object
    usual: float
    z: float

    @property
    def tone(self) -> str:
        if self.metric.good == "none":
            return ""
        return "good" if (self.z > 0) == (self.metric.good == "up") else "bad"


def large_change(metric: Metric, value: object, past: list[object]) -> Change | None:
    z = robust_z(value, past)
    if z is None or abs(z) < Z_LARGE:
        return None
    usual = median([float(v) for v in past if v is not None])  # type: ignore[arg-type]
    return Change(metric, value, usual, z)


def tone(metric: Metric, value: object, past: list[object]) -> str:
    change = large_change(metric, value, past)
    return change.tone if change else ""


def rolled(keys: list[str]) -> list[Metric]:
    known = {m.key: m for m in registry.rolled_metrics()}
    return [known[k] for k in keys if k in known]
