"""Turning metric points into numbers: daily rollups, and exact values for any period.

Write side: :func:`rebuild` recomputes the rollup rows of some managers and days from raw
records; :func:`verify` reports where stored rows differ from a fresh computation.
Read side: :func:`group_values` answers {group: {metric: value}} for a period, from the
rollups (``source="rollup"``) or straight from raw records (``source="raw"``, for checks
and the benchmark). A group is a set of manager ids, or None for everyone.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import registry
from funnelwatch.metrics.common import FOUR, today
from funnelwatch.metrics.models import DailySample, DailyValue, WeeklyValue
from funnelwatch.metrics.registry import Metric

Groups = dict[object, "set[int] | None"]
# (metric key, manager id) -> [value, weight]
Sums = dict[tuple[str, int], list]
# (metric key, manager id) -> {sample value: how many times}
Samples = dict[tuple[str, int], Counter]


def _dec(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    # SQLite sums decimals as floats: keep the 4 places they were stored with.
    return Decimal(repr(value)).quantize(FOUR)


# --- computing points -------------------------------------------------------------


@dataclass
class Daily:
    """One metric's fresh rollup for some managers and days."""

    sums: dict[tuple[int, dt.date], list]
    samples: dict[tuple[int, dt.date], list[float]]


def compute_daily(metric: Metric, period: Period, manager_ids: set[int] | None) -> Daily:
    sums: dict[tuple[int, dt.date], list] = {}
    samples: dict[tuple[int, dt.date], list[float]] = defaultdict(list)
    for p in metric.compute(period, manager_ids):
        if p.day not in period or (manager_ids is not None and p.manager_id not in manager_ids):
            continue
        key = (p.manager_id, p.day)
        if metric.kind == "median":
            samples[key].append(float(p.value))
            continue
        acc = sums.setdefault(key, [Decimal(0), Decimal(0)])
        acc[0] += _dec(p.value)
        acc[1] += _dec(p.weight)
    return Daily(sums, dict(samples))


# --- write side --------------------------------------------------------------------


def _scope(qs, keys: list[str], period: Period, manager_ids: set[int] | None):  # noqa: ANN001, ANN202
    qs = qs.filter(metric__in=keys, day__gte=period.start, day__lt=period.end)
    return qs if manager_ids is None else qs.filter(manager_id__in=manager_ids)


def rebuild(
    period: Period, manager_ids: set[int] | None = None, keys: Iterable[str] | None = None
) -> int:
    """Replace the rollup rows of ``period`` (and of those managers) with fresh ones.

    Returns the number of rows written.
    """
    metrics = [registry.get(k) for k in keys] if keys else registry.rolled_metrics()
    metrics = [m for m in metrics if m.rolled]
    values: list[DailyValue] = []
    samples: list[DailySample] = []
    for metric in metrics:
        daily = compute_daily(metric, period, manager_ids)
        samples += [
            DailySample(metric=metric.key, manager_id=m, day=d, value=v)
            for (m, d), vals in daily.samples.items()
            for v in vals
        ]
        values += [
            DailyValue(
                metric=metric.key,
                manager_id=m,
                day=d,
                value=v.quantize(FOUR),
                weight=w.quantize(FOUR),
            )
            for (m, d), (v, w) in daily.sums.items()
            if v or w
        ]
    medians = [m.key for m in metrics if m.kind == "median"]
    summed = [m.key for m in metrics if m.kind != "median"]
    with transaction.atomic():
        if summed:
            _scope(DailyValue.objects, summed, period, manager_ids).delete()
            DailyValue.objects.bulk_create(values, batch_size=2000)
            roll_weeks(period, manager_ids, summed)
        if medians:
            _scope(DailySample.objects, medians, period, manager_ids).delete()
            DailySample.objects.bulk_create(samples, batch_size=2000)
    written = len(values) + len(samples)
    return written


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weeks_of(period: Period) -> Period:
    """The whole weeks (Monday to Monday) that contain the period's days."""
    last = period.end - dt.timedelta(days=1)
    return Period(monday(period.start), monday(last) + dt.timedelta(days=7))


def _weekly_sums(keys: list[str], period: Period, manager_ids: set[int] | None) -> dict:
    """Daily rows summed per (metric, manager, Monday) over the weeks of ``period``."""
    weeks = weeks_of(period)
    out: dict[tuple[str, int, dt.date], list] = {}
    rows = _scope(DailyValue.objects, keys, weeks, manager_ids).values_list(
        "metric", "manager_id", "day", "value", "weight"
    )
    for key, m, day, v, w in rows:
        acc = out.setdefault((key, m, monday(day)), [Decimal(0), Decimal(0)])
        acc[0] += _dec(v)
        acc[1] += _dec(w)
    return out


def roll_weeks(period: Period, manager_ids: set[int] | None, keys: list[str]) -> None:
    """Rewrite the weekly rows of the weeks touching ``period`` from the daily rows."""
    weeks = weeks_of(period)
    sums = _weekly_sums(keys, period, manager_ids)
    qs = WeeklyValue.objects.filter(metric__in=keys, week__gte=weeks.start, week__lt=weeks.end)
    if manager_ids is not None:
        qs = qs.filter(manager_id__in=manager_ids)
    qs.delete()
    WeeklyValue.objects.bulk_create(
        [
            WeeklyValue(metric=k, manager_id=m, week=wk, value=v, weight=w)
            for (k, m, wk), (v, w) in sums.items()
        ],
        batch_size=2000,
    )


@dataclass(frozen=True)
class Difference:
    metric: str
    manager_id: int
    day: dt.date
    stored: object
    fresh: object

    def __str__(self) -> str:
        return (
            f"{self.day} {self.metric} manager #{self.manager_id}: "
            f"stored {self.stored}, recomputed {self.fresh}"
        )


def verify(period: Period, manager_ids: set[int] | None = None) -> list[Difference]:
    """Recompute every rolled metric and list the (metric, manager, day) rows that differ."""
    diffs: list[Difference] = []
    for metric in registry.rolled_metrics():
        daily = compute_daily(metric, period, manager_ids)
        if metric.kind == "median":
            stored: dict = defaultdict(list)
            for m, d, v in _scope(
                DailySample.objects, [metric.key], period, manager_ids
            ).values_list("manager_id", "day", "value"):
                stored[(m, d)].append(v)
            fresh = daily.samples
            norm = lambda vals: sorted(round(v, 4) for v in vals)  # noqa: E731
        else:
            stored = {
                (m, d): (v, w)
                for m, d, v, w in _scope(
                    DailyValue.objects, [metric.key], period, manager_ids
                ).values_list("manager_id", "day", "value", "weight")
            }
            fresh = {k: v for k, v in daily.sums.items() if v[0] or v[1]}
            norm = lambda vw: tuple(_dec(x).quantize(FOUR) for x in vw)  # noqa: E731
        for key in sorted(set(stored) | set(fresh)):
            a = norm(stored[key]) if key in stored else None
            b = norm(fresh[key]) if key in fresh else None
            if a != b:
                diffs.append(Difference(metric.key, key[0], key[1], a, b))
    return diffs + _verify_weeks(period, manager_ids)


def _verify_weeks(period: Period, manager_ids: set[int] | None) -> list[Difference]:
    """Weekly rows must equal the sums of their stored daily rows."""
    keys = [m.key for m in registry.rolled_metrics() if m.kind != "median"]
    weeks = weeks_of(period)
    fresh = {
        k: tuple(x.quantize(FOUR) for x in vw)
        for k, vw in _weekly_sums(keys, period, manager_ids).items()
    }
    qs = WeeklyValue.objects.filter(metric__in=keys, week__gte=weeks.start, week__lt=weeks.end)
    if manager_ids is not None:
        qs = qs.filter(manager_id__in=manager_ids)
    stored = {
        (k, m, wk): (_dec(v).quantize(FOUR), _dec(w).quantize(FOUR))
        for k, m, wk, v, w in qs.values_list("metric", "manager_id", "week", "value", "weight")
    }
    return [
        Difference(f"{k} (week)", m, wk, stored.get((k, m, wk)), fresh.get((k, m, wk)))
        for k, m, wk in sorted(set(stored) | set(fresh))
        if stored.get((k, m, wk)) != fresh.get((k, m, wk))
    ]


# --- read side ---------------------------------------------------------------------


def _stored(keys: list[str], period: Period, managers: set[int] | None) -> tuple[Sums, Samples]:
    metrics = [registry.get(k) for k in keys]
    summed = [m.key for m in metrics if m.kind in ("sum", "ratio", "mean")]
    medians = [m.key for m in metrics if m.kind == "median"]
    sums: Sums = {}
    samples: Samples = {}
    if summed:
        # Kept as the database returns them; finish() makes exact Decimals once per cell.
        for key, m, v, w in _summed_rows(summed, period, managers):
            sums[(key, m)] = [v, w]
    if medians:
        # Equal samples come back counted: a median needs the multiset, not each row.
        sql = (
            f"SELECT metric, manager_id, value, COUNT(*) FROM {DailySample._meta.db_table} "
            f"WHERE day >= %s AND day < %s AND metric IN ({', '.join(['%s'] * len(medians))})"
        )
        params: list = [period.start, period.end, *medians]
        if managers is not None:
            sql += f" AND manager_id IN ({', '.join(['%s'] * len(managers))})"
            params += sorted(managers)
        sql += " GROUP BY metric, manager_id, value"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for key, m, v, n in cursor.fetchall():
                samples.setdefault((key, m), Counter())[float(v)] += n
    return sums, samples


def _summed_rows(keys: list[str], period: Period, managers: set[int] | None) -> list[tuple]:
    """(metric, manager, sum of values, sum of weights) over the period, in one query.

    Plain SQL: this is the hot path of every page, and the ORM's per-value converters
    cost more than the database's work here.
    """
    selects, params = [], []
    for model, field, part in _parts(period):
        where = f"{field} >= %s AND {field} < %s AND metric IN ({', '.join(['%s'] * len(keys))})"
        params += [part.start, part.end, *keys]
        if managers is not None:
            where += f" AND manager_id IN ({', '.join(['%s'] * len(managers))})"
            params += sorted(managers)
        selects.append(
            f"SELECT metric, manager_id, value, weight FROM {model._meta.db_table} WHERE {where}"
        )
    sql = (
        "SELECT metric, manager_id, SUM(value), SUM(weight) FROM ("
        + " UNION ALL ".join(selects)
        + ") parts GROUP BY metric, manager_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _parts(period: Period) -> list[tuple[type, str, Period]]:
    """Whole weeks from the weekly table, the days around them from the daily one."""
    first = monday(period.start - dt.timedelta(days=1)) + dt.timedelta(days=7)
    last = monday(period.end)
    if last <= first:
        return [(DailyValue, "day", period)]
    parts = [(WeeklyValue, "week", Period(first, last))]
    parts += [
        (DailyValue, "day", p)
        for p in (Period(period.start, first), Period(last, period.end))
        if p.days
    ]
    return parts


def _raw(keys: list[str], period: Period, managers: set[int] | None) -> tuple[Sums, Samples]:
    sums: Sums = {}
    samples: Samples = {}
    for key in keys:
        daily = compute_daily(registry.get(key), period, managers)
        for (m, _d), (v, w) in daily.sums.items():
            acc = sums.setdefault((key, m), [Decimal(0), Decimal(0)])
            acc[0] += v.quantize(FOUR)
            acc[1] += w.quantize(FOUR)
        for (m, _d), values in daily.samples.items():
            samples.setdefault((key, m), Counter()).update(values)
    return sums, samples


def median(counts: Counter) -> float | None:
    """The median of a multiset given as {value: count} (the mean of the middle two)."""
    n = sum(counts.values())
    if not n:
        return None
    lo, hi = (n - 1) // 2, n // 2
    seen, low = 0, None
    for value, count in sorted(counts.items()):
        if low is None and seen + count > lo:
            low = value
        if seen + count > hi:
            return (low + value) / 2
        seen += count
    return None


def finish(metric: Metric, value: object, weight: object, samples: Counter | None) -> object:
    """A period value from its sums or samples; None when it is undefined."""
    if metric.kind == "median":
        middle = median(samples or Counter())
        return None if middle is None else round(middle, 4)
    value, weight = _dec(value), _dec(weight)
    if metric.kind in ("sum", "live"):
        return value.quantize(Decimal("0.01")) if metric.unit == "money" else _plain(value)
    if not weight:
        return None
    result = value / weight
    if metric.unit == "pct":
        return round(float(result * 100), 2)
    if metric.unit == "money":
        return result.quantize(Decimal("0.01"))
    return round(float(result), 4)


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _members(present: dict, members: set[int] | None) -> Iterable[int]:
    """Managers of the group that have data (small groups are checked one by one)."""
    if members is None:
        return present.keys()
    return [m for m in members if m in present]


_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("metrics_memo", default=None)


@contextmanager
def memoized() -> Iterator[None]:
    """Within the block, identical rollup reads are made once (period metrics such as
    revenue growth read revenue again)."""
    token = _memo.set({}) if _memo.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _memo.reset(token)


def _fetch(source: str, keys: list[str], period: Period, managers: set[int] | None) -> tuple:
    memo = _memo.get()
    key = (source, tuple(keys), period, None if managers is None else frozenset(managers))
    if memo is not None and key in memo:
        sums, samples = memo[key]
    else:
        sums, samples = (_stored if source == "rollup" else _raw)(keys, period, managers)
        if memo is not None:
            memo[key] = (sums, samples)
    # Callers add live values to the dicts: hand out copies.
    return dict(sums), samples


def group_values(
    keys: Iterable[str], period: Period, groups: Groups, source: str = "rollup"
) -> dict[object, dict[str, object]]:
    """Values of ``keys`` over ``period`` for each group of managers (None = everyone)."""
    keys = list(keys)
    metrics = {k: registry.get(k) for k in keys}
    union: set[int] | None = set()
    for members in groups.values():
        if members is None:
            union = None
            break
        union |= members
    rolled = [k for k in keys if metrics[k].rolled]
    sums, samples = _fetch(source, rolled, period, union) if rolled else ({}, {})
    live = _live([k for k in keys if metrics[k].kind == "live"], union)
    sums.update(live)
    out: dict[object, dict[str, object]] = {g: {} for g in groups}
    by_metric: dict[str, dict[int, list]] = defaultdict(dict)
    for (key, m), acc in sums.items():
        by_metric[key][m] = acc
    samples_by_metric: dict[str, dict[int, list]] = defaultdict(dict)
    for (key, m), values in samples.items():
        samples_by_metric[key][m] = values
    for key in keys:
        metric = metrics[key]
        if metric.kind == "period":
            for g, value in metric.period_values(period, groups).items():
                out[g][key] = value
            continue
        per_manager = by_metric.get(key, {})
        per_samples = samples_by_metric.get(key, {})
        for g, members in groups.items():
            if metric.kind == "median":
                pool: Counter = Counter()
                for m in _members(per_samples, members):
                    pool.update(per_samples[m])
                out[g][key] = finish(metric, 0, 0, pool)
                continue
            value, weight = 0, 0
            for m in _members(per_manager, members):
                acc = per_manager[m]
                value += acc[0]
                weight += acc[1]
            out[g][key] = finish(metric, value, weight, None)
    return out


def _live(keys: list[str], managers: set[int] | None) -> Sums:
    sums: Sums = {}
    day = today()
    for key in keys:
        for manager, value, weight in _live_points(key, day, managers):
            acc = sums.setdefault((key, manager), [Decimal(0), Decimal(0)])
            acc[0] += value
            acc[1] += weight
    return sums


def _live_points(key: str, day: dt.date, managers: set[int] | None) -> list[tuple]:
    """A "now" metric's points, reused for a short while (conf.LIVE_CACHE_SECONDS): they
    scan open records, and the table does not need them fresher than a minute."""
    from django.core.cache import cache

    from funnelwatch.metrics import conf

    scope = "all" if managers is None else ",".join(map(str, sorted(managers)))
    cache_key = "live:" + hashlib.sha1(f"{key}|{day}|{scope}".encode()).hexdigest()
    if conf.LIVE_CACHE_SECONDS and (hit := cache.get(cache_key)) is not None:
        return hit
    points = [
        (p.manager_id, _dec(p.value), _dec(p.weight))
        for p in registry.get(key).compute(Period(day, day + dt.timedelta(days=1)), managers)
    ]
    if conf.LIVE_CACHE_SECONDS:
        cache.set(cache_key, points, conf.LIVE_CACHE_SECONDS)
    return points


def daily_series(
    manager_ids: set[int] | None, keys: list[str], period: Period, step: int = 1
) -> dict[str, list[tuple[dt.date, object]]]:
    """Values per day (step=1) or per week (step=7) from the rollups, for trend charts."""
    metrics = [registry.get(k) for k in keys if registry.get(k).rolled]
    sums, samples = _stored_by_day([m.key for m in metrics], period, manager_ids)
    out: dict[str, list[tuple[dt.date, object]]] = {}
    for metric in metrics:
        series = []
        for start in list(period)[::step]:
            days = [start + dt.timedelta(days=i) for i in range(step)]
            value = sum((sums.get((metric.key, d), [0, 0])[0] for d in days), Decimal(0))
            weight = sum((sums.get((metric.key, d), [0, 0])[1] for d in days), Decimal(0))
            pool = Counter(v for d in days for v in samples.get((metric.key, d), []))
            series.append((start, finish(metric, _dec(value), _dec(weight), pool)))
        out[metric.key] = series
    return out


def _stored_by_day(keys: list[str], period: Period, managers: set[int] | None):  # noqa: ANN202
    sums: dict = {}
    samples: dict = defaultdict(list)
    qs = DailyValue.objects.filter(day__gte=period.start, day__lt=period.end, metric__in=keys)
    if managers is not None:
        qs = qs.filter(manager_id__in=managers)
    for key, d, v, w in (
        qs.values_list("metric", "day")
        .annotate(v=Sum("value"), w=Sum("weight"))
        .values_list("metric", "day", "v", "w")
    ):
        sums[(key, d)] = [_dec(v), _dec(w)]
    qs = DailySample.objects.filter(day__gte=period.start, day__lt=period.end, metric__in=keys)
    if managers is not None:
        qs = qs.filter(manager_id__in=managers)
    for key, d, v in qs.values_list("metric", "day", "value"):
        samples[(key, d)].append(v)
    return sums, samples
