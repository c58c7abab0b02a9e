"""Medians of a period are chosen by the database from counted daily and weekly samples:
they must equal the median of every sample, for any period and any groups."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.models import DailySample, WeeklySample

START = dt.date(2026, 3, 1)  # a Sunday: weeks start on the 2nd, 9th, ...
KEY = "stage_velocity"

samples = st.lists(
    st.tuples(
        st.integers(0, 2),  # which manager
        st.integers(0, 34),  # day after START
        st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.25, 3.0, 10.0, 40.0]),
        st.integers(1, 3),  # how many equal samples
    ),
    max_size=40,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=samples, first=st.integers(0, 20), length=st.integers(1, 15))
def test_median_from_counted_samples_equals_median_of_all(world, rows, first, length):
    people = [world.alice, world.bob, world.lead]
    DailySample.objects.all().delete()
    WeeklySample.objects.all().delete()
    merged: dict = {}
    for who, day, value, n in rows:
        key = (people[who].pk, START + dt.timedelta(days=day), value)
        merged[key] = merged.get(key, 0) + n
    DailySample.objects.bulk_create(
        DailySample(metric=KEY, manager_id=m, day=d, value=v, count=n)
        for (m, d, v), n in merged.items()
    )
    everything = Period(START, START + dt.timedelta(days=35))
    engine.roll_sample_weeks(everything, None, [KEY])
    engine.stamp(everything)
    period = Period(START + dt.timedelta(days=first), START + dt.timedelta(days=first + length))
    alice, bob = world.alice.pk, world.bob.pk
    groups = {"alice": {alice}, "pair": {alice, bob}, "all": None, "nobody": set()}
    got = engine.group_values([KEY], period, groups)
    for name, members in groups.items():
        pool = [
            v
            for (m, d, v), n in merged.items()
            for _ in range(n)
            if d in period and (members is None or m in members)
        ]
        expected = round(statistics.median(pool), 4) if pool else None
        assert got[name][KEY] == expected, (name, period)


def test_weekly_samples_are_the_daily_ones_counted(world):
    DailySample.objects.bulk_create(
        [
            DailySample(metric=KEY, manager_id=world.alice.pk, day=dt.date(2026, 3, 2), value=1.0),
            DailySample(
                metric=KEY, manager_id=world.alice.pk, day=dt.date(2026, 3, 8), value=1.0, count=2
            ),
            DailySample(metric=KEY, manager_id=world.alice.pk, day=dt.date(2026, 3, 9), value=2.0),
        ]
    )
    engine.roll_sample_weeks(Period(dt.date(2026, 3, 2), dt.date(2026, 3, 10)), None, [KEY])
    rows = sorted(WeeklySample.objects.values_list("week", "value", "count"))
    assert rows == [(dt.date(2026, 3, 2), 1.0, 3), (dt.date(2026, 3, 9), 2.0, 1)]
