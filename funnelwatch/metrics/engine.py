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
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
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


def _stored(keys: list[str], period: Period, managers: set[int] | None) -> tuple[Sums, Samples]:
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
    daily: type[Model], weekly: type[Model], columns: str, keys: list[str], period: Period, managers
) -> tuple[str, list]:
    """SQL reading ``columns`` of the rows of ``period``: whole weeks from the weekly
    table, the days around them from the daily one."""
    selects, params = [], []
    for table, field, part in _parts(period, daily, weekly):
        metric_in, metric_params = _in("metric", keys)
        where = f"{field} >= %s AND {field} < %s AND {metric_in}"
        params += [part.start, part.end, *metric_params]
        if managers is not None:
            manager_in, manager_params = _in("manager_id", sorted(managers))
            where += f" AND {manager_in}"
            params += manager_params
        selects.append(f"SELECT {columns} FROM {table._meta.db_table} WHERE {where}")
    return " UNION ALL ".join(selects), params


def _stored_medians(keys: list[str], period: Period, groups: Groups) -> dict[tuple, float]:
    """{(metric, group): median} over the period, for every group with samples.

    The database pools each group's counted samples and returns only the one or two
    values in the middle (window sums of counts), so the cost does not depend on
    carrying samples to Python.
    """
    everyone = any(members is None for members in groups.values())
    index = {g: i for i, g in enumerate(groups)}
    pairs = sorted(
        (index[g], m) for g, members in groups.items() if members is not None for m in members
    )
    union = None if everyone else {m for _, m in pairs}
    if union is not None and not union:
        return {}
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
    # Positions lo = (total-1) // 2 and hi = total // 2 (from 0) hold the middle: keep the
    # rows whose positions [upto - n, upto) reach them.
    sql = (
        f"WITH {', '.join(ctes)} SELECT metric, grp, value, upto - n, upto, total FROM c "
        "WHERE 2 * upto > total - 1 AND 2 * (upto - n) <= total"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    middle: dict[tuple[str, int], list] = {}
    for code, grp, value, before, upto, total in rows:
        key, total, before, upto = keys[code], int(total), int(before), int(upto)
        lo, hi = (total - 1) // 2, total // 2
        slot = middle.setdefault((key, int(grp)), [None, None])
        if before <= lo < upto:
            slot[0] = float(value)
        if before <= hi < upto:
            slot[1] = float(value)
    out: dict[tuple, float] = {}
    for g, i in index.items():
        grp = -1 if groups[g] is None else i
        for key in keys:
            lo_value, hi_value = middle.get((key, grp), (None, None))
            if lo_value is not None and hi_value is not None:
                out[(key, g)] = (lo_value + hi_value) / 2
    return out


def _summed_rows(keys: list[str], period: Period, managers: set[int] | None) -> list[tuple]:
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


# Answers read from the rollups, kept in the process (no copying in and out of a cache
# backend: at 200 managers an answer is tens of thousands of cells).
_ANSWERS: OrderedDict[tuple, tuple[float, object]] = OrderedDict()
_ANSWERS_MAX = 256
_answers_lock = threading.Lock()


def forget_answers() -> None:
    """Drop every reused answer (tests; a process that changed rows behind the engine)."""
    with _answers_lock:
        _ANSWERS.clear()


def _cached(what: tuple, period: Period, read: Callable[[], object]) -> object:
    """``read()``, reused while no day of ``period`` has been rebuilt (RollupStamp)."""
    if not settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS:
        return read()
    # Tokens first, rows second: rows read after the tokens are at least as new.
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
    key = (what, period, hashlib.sha1(repr(tokens).encode()).digest())
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
            stored = _cached(what, period, lambda: _stored(keys, period, members))
            sums, samples = cast(tuple[Sums, Samples], stored)
        else:
            sums, samples = _raw(keys, period, members)
        if memo is not None:
            memo[key] = (sums, samples)
    # Callers add live values to the dicts: hand out copies.
    return dict(sums), samples


def _fetch_medians(keys: list[str], period: Period, groups: Groups) -> dict[tuple, float]:
    """{(metric, group): median}, from the database or from an answer still current."""
    memo = _memo.get()
    # Groups by position: the answer may be reused for callers with other group keys.
    members = tuple(None if m is None else tuple(sorted(m)) for m in groups.values())
    key = ("medians", tuple(keys), period, members)
    if memo is not None and key in memo:
        by_position = memo[key]
    else:
        by_position = _cached(
            ("medians", tuple(keys), members),
            period,
            lambda: _stored_medians(keys, period, dict(enumerate(groups.values()))),
        )
        if memo is not None:
            memo[key] = by_position
    names = list(groups)
    return {(k, names[i]): value for (k, i), value in by_position.items()}


def group_values(
    keys: Iterable[str], period: Period, groups: Groups, source: str = "rollup"
) -> dict[object, dict[str, object]]:
    """Values of ``keys`` over ``period`` for each group of managers (None = everyone)."""
    keys = list(keys)
    metrics = {k: registry.get(k) for k in keys}
    union: set[int] | None = set()
    for members in groups.values():
        if members is None or union is None:
            union = None
            break
        union |= members
    in_db = source == "rollup"
    medians = [k for k in keys if metrics[k].kind == "median"] if in_db else []
    chosen = _fetch_medians(medians, period, groups) if medians else {}
    rolled = [k for k in keys if metrics[k].rolled and k not in medians]
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
            for g, value in _period_values(metric, period, groups).items():
                out[g][key] = value
            continue
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
