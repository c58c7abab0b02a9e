"""Colour only where a change is large for that manager: the robust z-score, counted by
hand; history read in one go agrees with the engine window by window."""

from __future__ import annotations

import datetime as dt

import pytest

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry
from funnelwatch.reports import trends


def test_robust_z_by_hand():
    # median 10; deviations 4,2,0,0,0,2,4,0 -> MAD 1, scale 1.4826 (above the 10% floor)
    past = [6, 8, 10, 10, 10, 12, 14, 10]
    assert trends.median(past) == 10
    z = trends.robust_z(16, past)
    assert z == pytest.approx((16 - 10) / 1.4826)
    # One odd week does not make the usual spread wide (a mean/sd would be moved by it).
    assert trends.robust_z(16, [6, 8, 10, 10, 10, 12, 200, 10]) == pytest.approx(z)
    # A narrow spread (MAD 0.5 -> 0.74) is held at the floor, 10% of the median: 1.0.
    assert trends.robust_z(16, [8, 9, 10, 10, 10, 11, 12, 10]) == pytest.approx(6.0)


def test_flat_history_has_a_floor_and_too_little_history_colours_nothing():
    # All weeks alike: MAD 0, the floor is 10% of the median -> 12 against 10 is 2 deviations.
    assert trends.robust_z(12, [10] * 8) == pytest.approx(2.0)
    assert trends.robust_z(12, [10, 10, 10]) is None
    assert trends.robust_z(5, [0] * 8) is None  # nothing to compare against
    assert trends.robust_z(None, [1, 2, 3, 4]) is None


def test_large_change_tone_follows_the_metrics_good_direction():
    up = registry.get("calls_out")
    down = registry.get("lost_count")
    past = [10, 10, 11, 9, 10, 10, 11, 9]
    assert trends.large_change(up, 11, past) is None  # an ordinary week
    assert trends.large_change(up, 2, past).tone == "bad"
    assert trends.large_change(up, 30, past).tone == "good"
    assert trends.large_change(down, 30, past).tone == "bad"
    assert trends.large_change(down, 30, past).usual == 10


def test_windows_are_the_same_days_of_earlier_weeks():
    wtd = Period(dt.date(2026, 3, 9), dt.date(2026, 3, 12))  # Monday–Wednesday
    spans = trends.windows(wtd)
    assert len(spans) == trends.WEEKS
    assert spans[-1] == Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))
    assert spans[0] == Period(dt.date(2026, 1, 12), dt.date(2026, 1, 15))
    month = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert trends.windows(month)[-1] == Period(dt.date(2026, 1, 30), dt.date(2026, 3, 1))


def test_history_agrees_with_the_engine(sales, world, django_assert_max_num_queries):
    metrics = [registry.get(k) for k in ("leads_received", "junk_pct", "speed_to_first_call")]
    period = Period(dt.date(2026, 3, 9), dt.date(2026, 3, 16))  # the week after the fixture's
    groups = {"a": {world.alice.pk}, "b": {world.bob.pk}, "all": None}
    # The days' tokens (the history is reused while they hold), the sums, the samples.
    with django_assert_max_num_queries(3):
        got = trends.history(metrics, period, groups)
    for i, window in enumerate(trends.windows(period)):
        expected = engine.group_values([m.key for m in metrics], window, groups)
        for g in groups:
            for m in metrics:
                assert got[g][m.key][i] == expected[g][m.key], (g, m.key, window)
    # The fixture's week is the last window: alice received two leads in it.
    assert got["a"]["leads_received"][-1] == 2
