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
import secrets
import threading
import time
from bisect import bisect_right
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from typing import cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, Sum

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import registry
from funnelwatch.metrics.common import FOUR, today
from funnelwatch.metrics.models import (
    DailySample,
    DailyValue,
    RollupStamp,
    WeeklySample,
    WeeklyValue,
)
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


def _scope(qs, keys: list[str], period: Period, manager_ids: set[int] | None):
    qs = qs.filter(metric__in=keys, day__gte=period.start, day__lt=period.end)
    return qs if manager_ids is None else qs.filter(manager_id__in=manager_ids)


def _week_scope(qs, keys: list[str], weeks: Period, manager_ids: set[int] | None):
    qs = qs.filter(metric__in=keys, week__gte=weeks.start, week__lt=weeks.end)
    return qs if manager_ids is None else qs.filter(manager_id__in=manager_ids)


def rebuild(
    period: Period, manager_ids: set[int] | None = None, keys: Iterable[str] | None = None
) -> int:
    """Replace the rollup rows of ``period`` (and of those managers) with fresh ones.

    Rebuilds of the same weeks take turns (:func:`_take_weeks`), and each computes its
    rows only once it has its turn: two changes committed at the same moment cannot
    leave the rows of the one computed first, nor sums of a week built from another
    rebuild's half-written days. Rows are written by upsert (``INSERT ... ON
    CONFLICT``), so a row another writer put in meanwhile is updated, never a unique
    violation. Returns the number of rows written.
    """
    metrics = [registry.get(k) for k in keys] if keys else registry.rolled_metrics()
    metrics = [m for m in metrics if m.rolled]
    medians = [m.key for m in metrics if m.kind == "median"]
    summed = [m.key for m in metrics if m.kind != "median"]
    with transaction.atomic():
        _take_weeks(period)
        values: list[DailyValue] = []
        samples: list[DailySample] = []
        for metric in metrics:
            daily = compute_daily(metric, period, manager_ids)
            samples += [
                DailySample(metric=metric.key, manager_id=m, day=d, value=v, count=n)
                for (m, d), vals in daily.samples.items()
                for v, n in Counter(vals).items()
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
        if summed:
            _scope(DailyValue.objects, summed, period, manager_ids).delete()
            _upsert(DailyValue, values, ["metric", "day", "manager"], ["value", "weight"])
            roll_weeks(period, manager_ids, summed)
        if medians:
            _scope(DailySample.objects, medians, period, manager_ids).delete()
            _upsert(DailySample, samples, ["metric", "day", "manager", "value"], ["count"])
            roll_sample_weeks(period, manager_ids, medians)
        stamp(period)
    written = len(values) + len(samples)
    return written


# Advisory locks of the rollup weeks are (this number, the Monday's ordinal day).
_WEEK_LOCKS = 0x0F0E


def _take_weeks(period: Period) -> None:
    """Wait for the turn to rewrite the weeks touching ``period`` (until the transaction
    ends). PostgreSQL: one advisory lock per week, taken in date order so that two
    rebuilds cannot each hold a week the other waits for. SQLite: its write transactions
    already run one at a time (``transaction_mode`` IMMEDIATE), so nothing to take."""
    if connection.vendor != "postgresql":
        return
    weeks = weeks_of(period)
    mondays = [weeks.start + dt.timedelta(days=7 * i) for i in range(weeks.days // 7)]
    with connection.cursor() as cursor:
        for day in mondays:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_WEEK_LOCKS, day.toordinal()])


def _upsert(model: type[Model], rows: list, unique: list[str], update: list[str]) -> None:
    """Insert ``rows``; where one with the same ``unique`` fields exists, update it."""
    model._default_manager.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=unique,
        update_fields=update,
    )


def refresh_statistics() -> None:
    """Let the database planner see the rollup tables as they are after a bulk rebuild
    (with the row counts it knew before, it may read them the slow way)."""
    tables = [m._meta.db_table for m in (DailyValue, WeeklyValue, DailySample, WeeklySample)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def stamp(period: Period) -> None:
    """Give the period's days new tokens: answers cached for them are no longer used."""
    RollupStamp.objects.bulk_create(
        [RollupStamp(day=day, token=secrets.randbits(62)) for day in period],
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=["token"],
    )


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
    qs = _week_scope(WeeklyValue.objects, keys, weeks, manager_ids)
    qs.delete()
    _upsert(
        WeeklyValue,
        [
            WeeklyValue(metric=k, manager_id=m, week=wk, value=v, weight=w)
            for (k, m, wk), (v, w) in sums.items()
        ],
        ["metric", "week", "manager"],
        ["value", "weight"],
    )


def _weekly_samples(keys: list[str], period: Period, manager_ids: set[int] | None) -> Counter:
    """Daily samples counted per (metric, manager, Monday, value) over the weeks of
    ``period``."""
    weeks = weeks_of(period)
    out: Counter = Counter()
    rows = _scope(DailySample.objects, keys, weeks, manager_ids).values_list(
        "metric", "manager_id", "day", "value", "count"
    )
    for key, m, day, v, n in rows.iterator(chunk_size=10000):
        out[(key, m, monday(day), v)] += n
    return out


def roll_sample_weeks(period: Period, manager_ids: set[int] | None, keys: list[str]) -> None:
    """Rewrite the weekly samples of the weeks touching ``period`` from the daily ones."""
    weeks = weeks_of(period)
    counts = _weekly_samples(keys, period, manager_ids)
    qs = _week_scope(WeeklySample.objects, keys, weeks, manager_ids)
    qs.delete()
    _upsert(
        WeeklySample,
        [
            WeeklySample(metric=k, manager_id=m, week=wk, value=v, count=n)
            for (k, m, wk, v), n in counts.items()
        ],
        ["metric", "week", "manager", "value"],
        ["count"],
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
            for m, d, v, n in _scope(
                DailySample.objects, [metric.key], period, manager_ids
            ).values_list("manager_id", "day", "value", "count"):
                stored[(m, d)] += [v] * n
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
            norm = lambda vw: [_dec(x).quantize(FOUR) for x in vw]  # noqa: E731
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
    qs = _week_scope(WeeklyValue.objects, keys, weeks, manager_ids)
    stored = {
        (k, m, wk): (_dec(v).quantize(FOUR), _dec(w).quantize(FOUR))
        for k, m, wk, v, w in qs.values_list("metric", "manager_id", "week", "value", "weight")
    }
    diffs = [
        Difference(f"{k} (week)", m, wk, stored.get((k, m, wk)), fresh.get((k, m, wk)))
        for k, m, wk in sorted(set(stored) | set(fresh))
        if stored.get((k, m, wk)) != fresh.get((k, m, wk))
    ]
    medians = [m.key for m in registry.rolled_metrics() if m.kind == "median"]
    fresh_samples = _weekly_samples(medians, period, manager_ids)
    qs = _week_scope(WeeklySample.objects, medians, weeks, manager_ids)
    stored_samples = Counter(
        {
            (k, m, wk, v): n
            for k, m, wk, v, n in qs.values_list("metric", "manager_id", "week", "value", "count")
        }
    )
    for k, m, wk, v in sorted(set(stored_samples) | set(fresh_samples)):
        if stored_samples[(k, m, wk, v)] != fresh_samples[(k, m, wk, v)]:
            diffs.append(
                Difference(
                    f"{k} (week, samples of {v})",
                    m,
                    wk,
                    stored_samples[(k, m, wk, v)],
                    fresh_samples[(k, m, wk, v)],
                )
            )
    return diffs


# --- read side ---------------------------------------------------------------------


def _stored(
    keys: list[str], period: Period | list[Period], managers: set[int] | None
) -> tuple[Sums, Samples]:
    """Sums of the period per (metric, manager); medians are chosen by the database
    (:func:`_stored_medians`)."""
    sums: Sums = {}
    # Kept as the database returns them; finish() makes exact Decimals once per cell.
    for key, m, v, w in _summed_rows(keys, period, managers):
        sums[(key, m)] = [v, w]
    return sums, {}


def _in(column: str, values: Iterable) -> tuple[str, list]:
    values = list(values)
    if not values:
        return "1 = 0", []  # nobody: "IN ()" is not SQL on PostgreSQL
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def _period_rows(
    daily: type[Model],
    weekly: type[Model],
    columns: str,
    keys: list[str],
    period: Period | list[Period],
    managers,
) -> tuple[str, list]:
    """SQL reading ``columns`` of the rows of ``period`` (or of several periods apart):
    whole weeks from the weekly table, the days around them from the daily one."""
    selects, params = [], []
    periods = period if isinstance(period, list) else [period]
    pieces = [piece for p in periods for piece in _parts(p, daily, weekly)]
    if not pieces:  # no day at all
        return f"SELECT {columns} FROM {daily._meta.db_table} WHERE 1 = 0", []
    for table, field, part in pieces:
        metric_in, metric_params = _in("metric", keys)
        where = f"{field} >= %s AND {field} < %s AND {metric_in}"
        params += [part.start, part.end, *metric_params]
        if managers is not None:
            manager_in, manager_params = _in("manager_id", sorted(managers))
            where += f" AND {manager_in}"
            params += manager_params
        selects.append(f"SELECT {columns} FROM {table._meta.db_table} WHERE {where}")
    return " UNION ALL ".join(selects), params


def _median_rows(
    keys: list[str], period: Period | list[Period], groups: Groups, reach: float | None = None
) -> list[tuple]:
    """Rows (metric number, group number (-1: everyone), value, samples before it, samples
    up to it, the group's samples) of the counted samples the database pooled per group
    and ordered: only the one or two in the middle, or with ``reach``, also those within
    ``reach`` × the group's samples a day (over ``period``) + 8 of the middle.

    The cost does not depend on carrying samples to Python.
    """
    everyone = any(members is None for members in groups.values())
    index = {g: i for i, g in enumerate(groups)}
    pairs = sorted(
        (index[g], m) for g, members in groups.items() if members is not None for m in members
    )
    union = None if everyone else {m for _, m in pairs}
    if union is not None and not union:
        return []
    # Metrics as small numbers: sorting by text (collation rules) would cost more than
    # the rest of the query. Keys are registered metric names (identifiers), written inline.
    code = " ".join(f"WHEN '{registry.get(k).key}' THEN {i}" for i, k in enumerate(keys))
    source, params = _period_rows(
        DailySample,
        WeeklySample,
        f"CASE metric {code} END AS metric, manager_id, value, count",
        keys,
        period,
        union,
    )
    branches = []
    if pairs:
        branches.append(
            "SELECT s.metric, g.grp, s.value, SUM(s.count) AS n FROM s "
            "JOIN g ON g.manager_id = s.manager_id GROUP BY s.metric, g.grp, s.value"
        )
    if everyone:
        branches.append(
            "SELECT metric, -1 AS grp, value, SUM(count) AS n FROM s GROUP BY metric, value"
        )
    ctes = [f"s AS ({source})"]
    if pairs:
        # Ids are integers from our own queries, written inline.
        members = ", ".join(f"({int(i)}, {int(m)})" for i, m in pairs)
        ctes.append(f"g (grp, manager_id) AS (VALUES {members})")
    ctes.append(f"h AS ({' UNION ALL '.join(branches)})")
    ctes.append(
        "c AS (SELECT metric, grp, value, n, "
        "SUM(n) OVER (PARTITION BY metric, grp ORDER BY value ROWS UNBOUNDED PRECEDING) AS upto, "
        "SUM(n) OVER (PARTITION BY metric, grp) AS total FROM h)"
    )
    if reach is None:
        # Positions lo = (total-1) // 2 and hi = total // 2 (from 0) hold the middle: keep
        # the rows whose positions [upto - n, upto) reach them.
        where = "2 * upto > total - 1 AND 2 * (upto - n) <= total"
    else:
        # The same, the positions widened by the reach (numbers written inline).
        days = sum(p.days for p in (period if isinstance(period, list) else [period]))
        spread = f"(2 * {float(reach) / max(days, 1)!r} * total + 16)"
        where = f"2 * upto > total - 1 - {spread} AND 2 * (upto - n) <= total + {spread}"
    sql = (
        f"WITH {', '.join(ctes)} SELECT metric, grp, value, upto - n, upto, total FROM c "
        f"WHERE {where} ORDER BY metric, grp, value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _stored_medians(
    keys: list[str], period: Period | list[Period], groups: Groups
) -> dict[tuple, float]:
    """{(metric, group): median} over the period, for every group with samples; the
    database chooses them (:func:`_median_rows`)."""
    middle: dict[tuple[str, int], list] = {}
    for code, grp, value, before, upto, total in _median_rows(keys, period, groups):
        key, total, before, upto = keys[code], int(total), int(before), int(upto)
        lo, hi = (total - 1) // 2, total // 2
        slot = middle.setdefault((key, int(grp)), [None, None])
        if before <= lo < upto:
            slot[0] = float(value)
        if before <= hi < upto:
            slot[1] = float(value)
    out: dict[tuple, float] = {}
    for i, g in enumerate(groups):
        grp = -1 if groups[g] is None else i
        for key in keys:
            lo_value, hi_value = middle.get((key, grp), (None, None))
            if lo_value is not None and hi_value is not None:
                out[(key, g)] = (lo_value + hi_value) / 2
    return out


@dataclass(frozen=True)
class Middle:
    """The sorted samples of a group around their middle: the distinct ``values``,
    ``upto[i]`` samples at or below ``values[i]``, ``below`` samples below ``values[0]``,
    ``total`` in all. Enough to find the median once a few samples are added."""

    total: int
    below: int
    values: list[float]
    upto: list[int]


# Samples a day the middles read for a period reach, beyond the middle, on each side:
# today's samples move the middle by half their number, and a busy day has a few times
# the samples of the period's average day (weekends and holidays included).
_REACH_DAYS = 3.0


def _stored_middles(
    keys: list[str], period: Period | list[Period], groups: Groups
) -> dict[tuple, Middle]:
    """{(metric, group): its samples around the middle} over the period."""
    found: dict[tuple, tuple[int, int, list, list]] = {}
    for code, grp, value, before, upto, total in _median_rows(
        keys, period, groups, reach=_REACH_DAYS
    ):
        slot = found.get((code, grp))
        if slot is None:
            slot = found[(code, grp)] = (int(total), int(before), [], [])
        slot[2].append(float(value))
        slot[3].append(int(upto))
    out: dict[tuple, Middle] = {}
    for i, g in enumerate(groups):
        grp = -1 if groups[g] is None else i
        for code, key in enumerate(keys):
            slot = found.get((code, grp))
            if slot is not None:
                out[(key, g)] = Middle(*slot)
    return out


def _stored_samples(keys: list[str], days: list[dt.date], managers: set[int] | None) -> dict:
    """{metric: {manager: Counter of samples}} of a few days, from the daily table."""
    qs = DailySample.objects.filter(metric__in=keys, day__in=days)
    if managers is not None:
        qs = qs.filter(manager_id__in=managers)
    out: dict[str, dict[int, Counter]] = {k: {} for k in keys}
    for key, m, value, n in qs.values_list("metric", "manager_id", "value", "count").order_by():
        pool = out[key].get(m)
        if pool is None:
            pool = out[key][m] = Counter()
        pool[value] += n
    return out


def _nth(k: int, a: Middle, b_values: list[float], b_upto: list[int]) -> float | None:
    """The ``k``-th (from 0) of the samples ``a`` describes and the samples ``b``
    (sorted distinct values and how many are at or below each); None when ``a`` does not
    reach far enough from its middle to tell.

    The k-th sample x has at most k samples below it, so at most k of ``a``: x <= a's
    k-th; and at least k + 1 at or below it, so at least k + 1 - len(b) of ``a``: x >= a's
    (k - len(b))-th. Both lie among ``a.values`` when those reach from position k - len(b)
    to k (or to a's ends), and then counting ``a``'s samples at or below any candidate
    from ``a.values`` and ``a.upto`` is exact wherever it matters.
    """
    nb = b_upto[-1] if b_upto else 0
    reach_low = a.below == 0 or a.below <= k - nb
    reach_high = not a.upto or a.upto[-1] >= min(k + 1, a.total)
    if not (reach_low and reach_high) and a.total:
        return None

    def in_a(v: float) -> int:
        i = bisect_right(a.values, v)
        return a.upto[i - 1] if i else 0

    def in_b(v: float) -> int:
        j = bisect_right(b_values, v)
        return b_upto[j - 1] if j else 0

    best: float | None = None
    # The smallest candidate with more than k samples at or below it, among a's values
    # and among b's (both counts grow with the candidate: binary searches).
    for values, count in (
        (a.values, lambda i: a.upto[i] + in_b(a.values[i])),
        (b_values, lambda j: in_a(b_values[j]) + b_upto[j]),
    ):
        lo, hi = 0, len(values)
        while lo < hi:
            mid = (lo + hi) // 2
            if count(mid) > k:
                hi = mid
            else:
                lo = mid + 1
        if lo < len(values) and (best is None or values[lo] < best):
            best = values[lo]
    return best


def merged_median(a: Middle | None, b: Counter) -> float | None:
    """The median of the samples ``a`` describes together with the samples ``b``
    ({value: count}); None when there are none, or when ``a`` reaches too little of its
    samples around the middle to tell."""
    a = a or Middle(0, 0, [], [])
    b_values = sorted(b)
    b_upto = list(accumulate(b[v] for v in b_values))
    n = a.total + (b_upto[-1] if b_upto else 0)
    if not n:
        return None
    low = _nth((n - 1) // 2, a, b_values, b_upto)
    high = low if n % 2 else _nth(n // 2, a, b_values, b_upto)
    if low is None or high is None:
        return None
    return (low + high) / 2


def _summed_rows(
    keys: list[str], period: Period | list[Period], managers: set[int] | None
) -> list[tuple]:
    """(metric, manager, sum of values, sum of weights) over the period, in one query.

    Plain SQL: this is the hot path of every page, and the ORM's per-value converters
    cost more than the database's work here.
    """
    source, params = _period_rows(
        DailyValue, WeeklyValue, "metric, manager_id, value, weight", keys, period, managers
    )
    sql = (
        f"SELECT metric, manager_id, SUM(value), SUM(weight) FROM ({source}) parts "
        "GROUP BY metric, manager_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _parts(
    period: Period, daily: type[Model] = DailyValue, weekly: type[Model] = WeeklyValue
) -> list[tuple[type[Model], str, Period]]:
    """Whole weeks from the weekly table, the days around them from the daily one."""
    first = monday(period.start - dt.timedelta(days=1)) + dt.timedelta(days=7)
    last = monday(period.end)
    if last <= first:
        return [(daily, "day", period)]
    parts = [(weekly, "week", Period(first, last))]
    parts += [
        (daily, "day", p) for p in (Period(period.start, first), Period(last, period.end)) if p.days
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


def once(what: tuple, read: Callable[[], object]) -> object:
    """``read()`` once per memoized block (one table's reads): metrics whose values come
    from one computation (a few figures of the same queries) ask for it by the same
    ``what``, which must name everything the answer depends on. Outside a block, read."""
    memo = _memo.get()
    if memo is None:
        return read()
    key = ("once", what)
    if key not in memo:
        memo[key] = read()
    return memo[key]


# Answers read from the rollups, kept in the process (no copying in and out of a cache
# backend: at 200 managers an answer is tens of thousands of cells).
_ANSWERS: OrderedDict[tuple, tuple[float, object]] = OrderedDict()
_ANSWERS_MAX = 256
_answers_lock = threading.Lock()


def forget_answers() -> None:
    """Drop every reused answer (tests; a process that changed rows behind the engine)."""
    with _answers_lock:
        _ANSWERS.clear()
        _RECENT.clear()


def _tokens(period: Period) -> tuple:
    """((day, token), ...) of the period's stamped days, read once per memoized block."""
    memo = _memo.get()
    tokens = None if memo is None else memo.get(("tokens", period))
    if tokens is None:
        tokens = tuple(
            RollupStamp.objects.filter(day__gte=period.start, day__lt=period.end)
            .order_by("day")
            .values_list("day", "token")
        )
        if memo is not None:
            memo[("tokens", period)] = tokens
    return tokens


def _cached(
    what: tuple, span: object, read: Callable[[], object], tokens: tuple | None = None
) -> object:
    """``read()``, reused while no day of ``span`` has been rebuilt (RollupStamp).

    ``span``: a period, or anything naming some days when ``tokens`` (theirs, read with a
    longer period's) are given."""
    if not settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS:
        return read()
    # Tokens first, rows second: rows read after the tokens are at least as new.
    if tokens is None:
        assert isinstance(span, Period)
        tokens = _tokens(span)
    key = (what, span, hashlib.sha1(repr(tokens).encode()).digest())
    now = time.monotonic()
    with _answers_lock:
        found = _ANSWERS.get(key)
        if found is not None and found[0] > now:
            _ANSWERS.move_to_end(key)
            return found[1]
    answer = read()
    with _answers_lock:
        _ANSWERS[key] = (now + settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS, answer)
        while len(_ANSWERS) > _ANSWERS_MAX:
            _ANSWERS.popitem(last=False)
    return answer


def reused(what: tuple, period: Period, read: Callable[[], object]) -> object:
    """``read()``, an answer computed from the rollups of ``period``'s days, reused while
    none of those days is rebuilt (as the engine's own answers are); ``what`` names the
    answer. The answer is shared: callers must not change it."""
    return _cached(("reused", what), period, read)


@dataclass(frozen=True)
class Split:
    """A period as the days whose rows change (``recent``: read again when their tokens
    change) and the rest (``settled``, a few periods: reused while their tokens hold)."""

    settled: tuple[Period, ...]
    settled_tokens: tuple
    recent: tuple[dt.date, ...]
    recent_tokens: tuple


# The recent days chosen last for a period, and the tokens of the period then.
_RECENT: OrderedDict[Period, tuple[frozenset, dict]] = OrderedDict()
# More days changed at once than this: the period is read whole, as nothing was learnt.
_RECENT_MAX = 3


def _split(period: Period) -> Split | None:
    """How to read ``period`` in two parts, or None to read it whole.

    A day's rows are rewritten whenever something happens on it, which in a working day is
    today (or the last day something happened): those days are read apart, from the daily
    tables (a day is a few thousand rows), and the answer for the rest is reused while
    its tokens hold; the two are merged. The recent days are those whose tokens changed
    since the period was last read; at first, today and the last day rebuilt before it.
    Which days are recent only decides what is read apart: every part is reused only
    under its own days' tokens, so the numbers are the same whichever days are chosen.
    No split when answers are not reused (two reads would gain nothing).
    """
    if not settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS:
        return None
    memo = _memo.get()
    if memo is not None and ("split", period) in memo:
        return memo[("split", period)]
    tokens = _tokens(period)
    now = dict(tokens)
    with _answers_lock:
        chosen, before = _RECENT.get(period, (None, None))
    changed = (
        set()
        if before is None
        else {d for d in now.keys() | before.keys() if now.get(d) != before.get(d)}
    )
    if chosen is not None and changed <= chosen:
        recent = chosen
    elif changed and len(changed) <= _RECENT_MAX:
        recent = frozenset(changed)
    else:
        # Today, and this period's last rebuilt day unless a period read before in the
        # same block (a table reads the period shown first, then those it is compared
        # with) has a later one: a period that ended before it is read whole.
        day = today()
        last = max((d for d in now if d <= day), default=None)
        seen = None if memo is None else memo.get("latest")
        if seen is not None and last is not None and last < seen:
            last = None
        elif memo is not None and last is not None:
            memo["latest"] = last
        recent = frozenset(d for d in (last, day) if d is not None and d in period)
    with _answers_lock:
        _RECENT[period] = (recent, now)
        _RECENT.move_to_end(period)
        while len(_RECENT) > _ANSWERS_MAX:
            _RECENT.popitem(last=False)
    split = None
    if recent:
        settled, start = [], period.start
        for day in sorted(recent):
            if start < day:
                settled.append(Period(start, day))
            start = day + dt.timedelta(days=1)
        if start < period.end:
            settled.append(Period(start, period.end))
        split = Split(
            tuple(settled),
            tuple(t for t in tokens if t[0] not in recent),
            tuple(sorted(recent)),
            tuple(t for t in tokens if t[0] in recent),
        )
    if memo is not None:
        memo[("split", period)] = split
    return split


def _add_sums(parts: list[Sums]) -> Sums:
    """Sums of adjoining parts of a period: the period's sums."""
    if len(parts) == 1:
        return parts[0]
    # Exact Decimals throughout (SQLite hands sums out as floats).
    out = {k: [_dec(v), _dec(w)] for k, (v, w) in parts[0].items()}
    for part in parts[1:]:
        for k, (v, w) in part.items():
            acc = out.get(k)
            out[k] = [_dec(v), _dec(w)] if acc is None else [acc[0] + _dec(v), acc[1] + _dec(w)]
    return out


def _fetch(
    source: str, keys: list[str], period: Period, managers: AbstractSet[int] | None
) -> tuple:
    memo = _memo.get()
    members = None if managers is None else set(managers)
    key = (source, tuple(keys), period, None if members is None else frozenset(members))
    if memo is not None and key in memo:
        sums, samples = memo[key]
    else:
        if source == "rollup":
            what = ("sums", tuple(keys), None if members is None else tuple(sorted(members)))
            split = _split(period)
            if split is None:
                found = _cached(what, period, lambda: _stored(keys, period, members)[0])
            else:
                found = _cached(what, period, lambda: _split_sums(what, keys, split, members))
            sums, samples = cast(Sums, found), {}
        else:
            sums, samples = _raw(keys, period, members)
        if memo is not None:
            memo[key] = (sums, samples)
    # Callers add live values to the dicts: hand out copies.
    return dict(sums), samples


def _split_sums(what: tuple, keys: list[str], split: Split, members: set[int] | None) -> Sums:
    """Sums of a split period: its settled part's (reused while their tokens hold) plus
    its recent days'."""
    settled = list(split.settled)
    days = [Period(d, d + dt.timedelta(days=1)) for d in split.recent]
    parts = [
        _cached(
            what, split.settled, lambda: _stored(keys, settled, members)[0], split.settled_tokens
        ),
        _cached(what, split.recent, lambda: _stored(keys, days, members)[0], split.recent_tokens),
    ]
    return _add_sums([cast(Sums, p) for p in parts])


def _fetch_medians(keys: list[str], period: Period, groups: Groups) -> dict[tuple, float]:
    """{(metric, group): median}, from the database or from an answer still current."""
    memo = _memo.get()
    # Groups by position: the answer may be reused for callers with other group keys.
    members = tuple(None if m is None else tuple(sorted(m)) for m in groups.values())
    key = ("medians", tuple(keys), period, members)
    if memo is not None and key in memo:
        by_position = memo[key]
    else:
        split = _split(period)

        def read() -> dict[tuple, float]:
            merged = None if split is None else _merged_medians(keys, split, groups, members)
            if merged is not None:
                return merged
            return _stored_medians(keys, period, dict(enumerate(groups.values())))

        by_position = _cached(("medians", tuple(keys), members), period, read)
        if memo is not None:
            memo[key] = by_position
    names = list(groups)
    return {(k, names[i]): value for (k, i), value in by_position.items()}


def _merged_medians(
    keys: list[str], split: Split, groups: Groups, members: tuple
) -> dict[tuple, float] | None:
    """{(metric, group position): median} of a split period: the settled part's samples
    around their middles (reused while its days' tokens hold) merged with every sample of
    the recent days; None when a middle read earlier does not reach far enough for the
    recent samples (the caller reads the period whole)."""
    by_position: Groups = dict(enumerate(groups.values()))
    settled = list(split.settled)
    middles = cast(
        dict[tuple, Middle],
        _cached(
            ("middles", tuple(keys), members),
            split.settled,
            lambda: _stored_middles(keys, settled, by_position),
            split.settled_tokens,
        ),
    )
    union: set[int] | None = set()
    for m in groups.values():
        if m is None or union is None:
            union = None
        else:
            union |= m
    samples = cast(
        dict[str, dict[int, Counter]],
        _cached(
            ("samples", tuple(keys), None if union is None else tuple(sorted(union))),
            split.recent,
            lambda: _stored_samples(keys, list(split.recent), union),
            split.recent_tokens,
        ),
    )
    out: dict[tuple, float] = {}
    for key in keys:
        per_manager = samples.get(key, {})
        for i, m in by_position.items():
            if m is not None and len(m) == 1:
                pool = per_manager.get(next(iter(m)), Counter())
            else:
                pool = Counter()
                for person in _members(per_manager, m):
                    pool.update(per_manager[person])
            middle = middles.get((key, i))
            if middle is None and not pool:
                continue
            value = merged_median(middle, pool)
            if value is None:
                return None
            out[(key, i)] = value
    return out


def group_values(
    keys: Iterable[str], period: Period, groups: Groups, source: str = "rollup"
) -> dict[object, dict[str, object]]:
    """Values of ``keys`` over ``period`` for each group of managers (None = everyone)."""
    with memoized():  # the period's tokens read once for every part of the answer
        return _group_values(list(keys), period, groups, source)


def _group_values(
    keys: list[str], period: Period, groups: Groups, source: str
) -> dict[object, dict[str, object]]:
    metrics = {k: registry.get(k) for k in keys}
    union: set[int] | None = set()
    for members in groups.values():
        if members is None or union is None:
            union = None
            break
        union |= members
    found: dict[object, dict[str, object]] = {g: {} for g in groups}
    rolled = [k for k in keys if metrics[k].rolled]
    if rolled and source == "rollup":
        # The finished values, reused with the answers they come from: a period that
        # did not change costs no arithmetic either.
        positions = tuple(None if m is None else tuple(sorted(m)) for m in groups.values())
        by_position = cast(
            dict[int, dict[str, object]],
            _cached(
                ("finished", tuple(rolled), positions),
                period,
                lambda: _rolled_values(rolled, period, dict(enumerate(groups.values())), union),
            ),
        )
        for i, g in enumerate(groups):
            found[g].update(by_position[i])
    elif rolled:
        for g, values in _rolled_values(rolled, period, groups, union, source).items():
            found[g].update(values)
    live = [k for k in keys if metrics[k].kind == "live"]
    if live:
        per_live: dict[str, dict[int, list]] = defaultdict(dict)
        for (key, m), acc in _live(live, union).items():
            per_live[key][m] = acc
        for key in live:
            per_manager = per_live.get(key, {})
            for g, members in groups.items():
                value, weight = 0, 0
                for m in _members(per_manager, members):
                    acc = per_manager[m]
                    value += acc[0]
                    weight += acc[1]
                found[g][key] = finish(metrics[key], value, weight, None)
    for key in keys:
        if metrics[key].kind == "period":
            for g, value in _period_values(metrics[key], period, groups).items():
                found[g][key] = value
    return {g: {k: found[g][k] for k in keys} for g in groups}


def _rolled_values(
    keys: list[str], period: Period, groups: Groups, union: set[int] | None, source="rollup"
) -> dict[object, dict[str, object]]:
    """The finished values of rolled-up metrics for each group."""
    metrics = {k: registry.get(k) for k in keys}
    in_db = source == "rollup"
    medians = [k for k in keys if metrics[k].kind == "median"] if in_db else []
    chosen = _fetch_medians(medians, period, groups) if medians else {}
    summed = [k for k in keys if k not in medians]
    sums, samples = _fetch(source, summed, period, union) if summed else ({}, {})
    out: dict[object, dict[str, object]] = {g: {} for g in groups}
    by_metric: dict[str, dict[int, list]] = defaultdict(dict)
    for (key, m), acc in sums.items():
        by_metric[key][m] = acc
    samples_by_metric: dict[str, dict[int, list]] = defaultdict(dict)
    for (key, m), values in samples.items():
        samples_by_metric[key][m] = values
    for key in keys:
        metric = metrics[key]
        per_manager = by_metric.get(key, {})
        per_samples = samples_by_metric.get(key, {})
        for g, members in groups.items():
            if key in medians:
                middle = chosen.get((key, g))
                out[g][key] = None if middle is None else round(middle, 4)
                continue
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


def _period_values(metric: Metric, period: Period, groups: Groups) -> dict:
    """A ``period`` metric's values; reused like rollup answers when the metric says its
    records change only together with the rollups of the days they are dated on."""
    compute = metric.period_values
    assert compute is not None  # registry: every period metric has period_values
    if not metric.reuse_with_rollups:
        return compute(period, groups)
    members = tuple(None if m is None else tuple(sorted(m)) for m in groups.values())
    by_position = _cached(
        ("period", metric.key, members),
        period,
        lambda: compute(period, dict(enumerate(groups.values()))),
    )
    names = list(groups)
    return {names[i]: value for i, value in cast(dict[int, object], by_position).items()}


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
    """A "now" metric's points, reused for a short while
    (``FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS``): they scan open records, and the table does
    not need them fresher than a minute."""
    from django.core.cache import cache

    scope = "all" if managers is None else ",".join(map(str, sorted(managers)))
    cache_key = "live:" + hashlib.sha1(f"{key}|{day}|{scope}".encode()).hexdigest()
    if (
        settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS
        and (hit := cache.get(cache_key)) is not None
    ):
        return hit
    points = [
        (p.manager_id, _dec(p.value), _dec(p.weight))
        for p in registry.get(key).compute(Period(day, day + dt.timedelta(days=1)), managers)
    ]
    if settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS:
        cache.set(cache_key, points, settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS)
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
            pool: Counter = Counter()
            for d in days:
                pool.update(samples.get((metric.key, d), {}))
            series.append((start, finish(metric, _dec(value), _dec(weight), pool)))
        out[metric.key] = series
    return out


def _stored_by_day(keys: list[str], period: Period, managers: set[int] | None):
    sums: dict = {}
    samples: dict = defaultdict(Counter)
    qs = DailyValue.objects.filter(day__gte=period.start, day__lt=period.end, metric__in=keys)
    if managers is not None:
        qs = qs.filter(manager_id__in=managers)
    for key, d, v, w in (
        qs.values_list("metric", "day")
        .annotate(v=Sum("value"), w=Sum("weight"))
        .values_list("metric", "day", "v", "w")
    ):
        sums[(key, d)] = [_dec(v), _dec(w)]
    found = DailySample.objects.filter(day__gte=period.start, day__lt=period.end, metric__in=keys)
    if managers is not None:
        found = found.filter(manager_id__in=managers)
    for key, d, v, n in found.values_list("metric", "day", "value", "count"):
        samples[(key, d)][v] += n
    return sums, samples
