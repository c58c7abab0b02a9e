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
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

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
    """group -> metric key -> the values over each history window (oldest first).

    Read from the daily rollups in two queries whatever the number of windows, groups
    and metrics (the sums and weights per day, and the samples of median metrics), and
    finished as the metric engine finishes a period's value."""
    chosen = [m for m in metrics if m.rolled]
    if not chosen or not groups:
        return {g: {m.key: [] for m in chosen} for g in groups}
    spans = windows(period)
    # Every window lies before the period: in a working day, the history read a moment
    # ago is still the history (reused while the days' rollups are unchanged).
    members = tuple(None if m is None else tuple(sorted(m)) for m in groups.values())
    by_position = engine.reused(
        ("trends.history", tuple(m.key for m in chosen), members, period),
        Period(spans[0].start, spans[-1].end),
        lambda: _history(chosen, spans, dict(enumerate(groups.values()))),
    )
    return {g: by_position[i] for i, g in enumerate(groups)}


def _history(
    chosen: list[Metric], spans: list[Period], groups: dict[object, set[int] | None]
) -> dict[object, dict[str, list[object]]]:
    from funnelwatch.metrics.models import DailySample, DailyValue

    out: dict[object, dict[str, list[object]]] = {g: {m.key: [] for m in chosen} for g in groups}
    first, last = spans[0].start, spans[-1].end
    where = {
        span.start + dt.timedelta(days=d): i
        for i, span in enumerate(spans)
        for d in range(span.days)
    }

    def window_of(day: dt.date) -> int | None:
        return where.get(day)

    everyone = any(members is None for members in groups.values())
    managers = set().union(*(m for m in groups.values() if m is not None))
    sums: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    rows = DailyValue.objects.filter(
        day__gte=first, day__lt=last, metric__in=[m.key for m in chosen if m.kind != "median"]
    )
    if not everyone:
        rows = rows.filter(manager_id__in=managers)
    for key, manager, day, value, weight in rows.values_list(
        "metric", "manager_id", "day", "value", "weight"
    ):
        i = window_of(day)
        if i is not None:
            acc = sums[(key, manager, i)]
            acc[0] += value
            acc[1] += weight
    pools: dict[tuple, Counter] = defaultdict(Counter)
    medians = [m.key for m in chosen if m.kind == "median"]
    if medians:
        samples = DailySample.objects.filter(day__gte=first, day__lt=last, metric__in=medians)
        if not everyone:
            samples = samples.filter(manager_id__in=managers)
        for key, manager, day, value, count in samples.values_list(
            "metric", "manager_id", "day", "value", "count"
        ):
            i = window_of(day)
            if i is not None:
                pools[(key, manager, i)][value] += count
    present = {manager for _key, manager, _i in [*sums, *pools]}
    for g, members in groups.items():
        people = present if members is None else members & present
        for m in chosen:
            for i in range(len(spans)):
                if m.kind == "median":
                    pool: Counter = Counter()
                    for person in people:
                        pool.update(pools.get((m.key, person, i), {}))
                    out[g][m.key].append(engine.finish(m, 0, 0, pool))
                    continue
                value, weight = Decimal(0), Decimal(0)
                for person in people:
                    acc = sums.get((m.key, person, i))
                    if acc:
                        value += acc[0]
                        weight += acc[1]
                out[g][m.key].append(engine.finish(m, value, weight, None))
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
