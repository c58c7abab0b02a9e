"""A period with today in it is answered in two parts: the days before today (reused while
their tokens hold) and today (read again when its rows change), merged. The merged
numbers must be the ones a whole read gives: sums added, medians from the middle of the
earlier days' samples and today's."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from decimal import Decimal

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.models import DailySample, DailyValue, WeeklySample, WeeklyValue

TODAY = dt.date(2026, 3, 20)  # a Friday
MONTH = Period(TODAY - dt.timedelta(days=29), TODAY + dt.timedelta(days=1))
MEDIAN, SUM = "stage_velocity", "leads_received"


def _middle(a: Counter, extra: int) -> engine.Middle:
    """``a``'s sorted samples cut to those within ``extra`` positions of the middle, as
    the database hands them out (whole distinct values)."""
    values = sorted(a)
    total = sum(a.values())
    lo, hi = (total - 1) // 2 - extra, total // 2 + extra
    kept, upto, seen, below = [], [], 0, None
    for v in values:
        if seen + a[v] > lo and seen <= hi:
            below = seen if below is None else below
            kept.append(v)
            upto.append(seen + a[v])
        seen += a[v]
    return engine.Middle(total, below or 0, kept, upto)


counts = st.dictionaries(st.sampled_from([x / 4 for x in range(-8, 60)]), st.integers(1, 4))


@settings(max_examples=400, deadline=None)
@given(a=counts, b=counts, extra=st.integers(0, 12))
def test_merged_median_is_the_median_of_everything_or_says_it_cannot_tell(a, b, extra):
    a, b = Counter(a), Counter(b)
    everything = sorted((a + b).elements())
    expected = statistics.median(everything) if everything else None
    assert engine.merged_median(_middle(a, 10**6), b) == expected  # all of a: always exact
    got = engine.merged_median(_middle(a, extra), b)
    assert got is None or got == expected
    if extra >= sum(b.values()) + 1:  # reaches as far as b can move the middle
        assert got == expected


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        yield


def _put(world, day: dt.date, leads: int, samples: list[float], who=None) -> None:
    who = who or world.alice
    DailyValue.objects.update_or_create(
        metric=SUM,
        manager=who,
        day=day,
        defaults={"value": Decimal(leads), "weight": Decimal(leads)},
    )
    DailySample.objects.filter(metric=MEDIAN, manager=who, day=day).delete()
    for value, n in Counter(samples).items():
        DailySample.objects.create(metric=MEDIAN, manager=who, day=day, value=value, count=n)
    whole = Period(day, day + dt.timedelta(days=1))
    engine.roll_weeks(whole, None, [SUM])
    engine.roll_sample_weeks(whole, None, [MEDIAN])
    engine.stamp(whole)


def _read(world) -> dict:
    groups = {"alice": {world.alice.pk}, "pair": {world.alice.pk, world.bob.pk}, "all": None}
    return engine.group_values([SUM, MEDIAN], MONTH, groups)


def _whole(world, settings) -> dict:
    saved, settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS, 0
    try:
        return _read(world)
    finally:
        settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = saved


@pytest.fixture
def month(world, frozen, settings):
    settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = 3600
    engine.forget_answers()
    DailyValue.objects.all().delete()
    WeeklyValue.objects.all().delete()
    DailySample.objects.all().delete()
    WeeklySample.objects.all().delete()
    for i, day in enumerate(MONTH):
        _put(world, day, i % 3 + 1, [float(i % 7), float(i % 5) + 0.5])
        _put(world, day, 1, [float(i % 4) * 2], who=world.bob)
    yield
    engine.forget_answers()


def test_a_change_today_after_a_reused_read_is_counted(world, month, settings):
    first = _read(world)
    assert first == _whole(world, settings)
    _put(world, TODAY, 40, [100.0] * 30)  # a busy afternoon: the medians move up
    got = _read(world)
    assert got == _whole(world, settings)
    assert got["alice"][SUM] == first["alice"][SUM] + 40 - 3
    assert got["all"][MEDIAN] > first["all"][MEDIAN]


def test_today_is_read_alone_while_the_days_before_are_reused(
    world, month, settings, django_assert_max_num_queries
):
    _read(world)
    _put(world, TODAY, 5, [1.0])
    # The tokens, today's sums, today's samples: the earlier days come from the answer
    # kept for them.
    with django_assert_max_num_queries(3):
        _read(world)


def test_a_change_to_an_earlier_day_is_counted(world, month, settings):
    _read(world)
    _put(world, TODAY - dt.timedelta(days=9), 1000, [0.0] * 50, who=world.bob)
    got = _read(world)
    assert got == _whole(world, settings)
    assert got["pair"][SUM] > 1000


def test_more_samples_today_than_the_middle_kept_reaches_reads_the_whole_period(
    world, month, settings, monkeypatch
):
    _read(world)
    _put(world, TODAY, 1, [500.0] * 400 + [501.0] * 300)
    whole_reads = []
    real = engine._stored_medians
    monkeypatch.setattr(
        engine, "_stored_medians", lambda *args: whole_reads.append(args[1]) or real(*args)
    )
    got = _read(world)
    assert MONTH in whole_reads
    assert got == _whole(world, settings)
