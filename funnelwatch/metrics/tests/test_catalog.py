"""One test per metric against the hand-built week in conftest.py (``sales``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry

D = Decimal


def values(key, period, world, source="rollup"):
    groups = {"alice": {world.alice.pk}, "bob": {world.bob.pk}, "all": None}
    out = engine.group_values([key], period, groups, source)
    return {g: out[g][key] for g in groups}


EXPECTED = {
    # metric: (alice, bob, everyone)
    "leads_received": (2, 2, 4),
    "junk_pct": (50.0, 0.0, 25.0),
    "proposals_sent": (1, 1, 2),
    "proposals_amount": (D("1000.00"), D("500.00"), D("1500.00")),
    "meetings_held": (1, 0, 1),
    "lead_to_proposal_pct": (50.0, 50.0, 50.0),
    # d1: a note and a meeting in objections; d3: a note after the hand-over to alice
    "objection_attempts": (3, 0, 3),
    "objection_failures": (1, 0, 1),
    "objection_avg_days": (2.0, None, 2.0),
    "won_amount": (D("5000.00"), D("0.00"), D("5000.00")),
    "won_count": (1, 0, 1),
    "closing_to_won_pct": (100.0, None, 100.0),
    # d3's first proposal was bob's (its owner then), and it was not won
    "proposal_to_won_pct": (100.0, 0.0, 50.0),
    "lost_count": (1, 0, 1),
    "revived_pct": (100.0, None, 100.0),
    "stalled_deals": (0, 1, 1),
    # alice's stays: 1h (d2), 1, 1, 1, 2, 2 days; bob's: 2h and 22h (d3 before hand-over)
    "stage_velocity": (1.0, 0.5, 1.0),
    "tasks_done": (2, 0, 2),
    "tasks_overdue": (0, 1, 1),
    "tasks_done_late": (1, 0, 1),
    "revenue": (D("5000.00"), D("0.00"), D("5000.00")),
    "revenue_growth_pct": (None, None, None),
    "gross_profit": (D("2000.00"), D("0.00"), D("2000.00")),
    "margin_pct": (40.0, None, 40.0),
    "avg_check": (D("5000.00"), None, D("5000.00")),
    "avg_turnover_per_client": (D("5000.00"), None, D("5000.00")),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_metric(key, sales, world, week):
    expected = dict(zip(("alice", "bob", "all"), EXPECTED[key], strict=True))
    assert values(key, week, world, "raw") == expected
    assert values(key, week, world, "rollup") == expected


def test_crm_actions_counts_own_changes(sales, world, week):
    # alice: 2 leads, junk, 3 moves, win, proposal, 2 notes, meeting planned + held,
    # lose, 2 tasks created, 2 completed = 17; bob: 2 moves and a proposal.
    assert values("crm_actions", week, world) == {"alice": 17, "bob": 3, "all": 24}


def test_cost_of_sales_splits_the_cost_by_head_count(sales, world, week):
    cost = D(30000) * 7 * 12 / D("365.25")
    got = values("cost_of_sales_pct", week, world)
    # Four sellers (lead, alice, bob, outsider): alice carries a quarter of the cost.
    assert got["alice"] == pytest.approx(float(cost / 4 / 5000 * 100))
    assert got["all"] == pytest.approx(float(cost / 5000 * 100))
    assert got["bob"] is None  # no revenue: undefined, not 0


def test_revenue_growth_against_previous_period(sales, world):
    later = Period(dt.date(2026, 3, 7), dt.date(2026, 3, 8))
    # 7 March (5000) against 6 March (0): undefined; 8 March against 7 March: -100 %.
    assert values("revenue_growth_pct", later, world)["all"] is None
    after = Period(later.end, later.end + (later.end - later.start))
    assert values("revenue_growth_pct", after, world)["alice"] == -100.0


def test_every_catalogue_metric_is_registered():
    keys = {m.key for m in registry.all_metrics()}
    assert set(EXPECTED) | {"crm_actions", "cost_of_sales_pct"} <= keys


def test_rollups_match_raw_records_after_events(sales, week):
    assert engine.verify(Period(week.start.replace(day=1), week.end)) == []


def test_plan_pct_reads_revenue_plans_pro_rata(sales, world, week):
    from funnelwatch.plans.models import Plan

    assert values("plan_pct", week, world)["alice"] is None  # no plan: undefined
    # A 14-day plan of 20 000 for alice: this week's share is 10 000, she made 5 000.
    Plan.objects.create(
        title="March",
        metric="won_amount",
        target=20000,
        manager=world.alice,
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 15),
    )
    Plan.objects.create(
        title="Dept",
        metric="won_amount",
        target=7000,
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 8),
    )
    got = values("plan_pct", week, world)
    assert got == {"alice": 50.0, "bob": None, "all": round(5000 / 7000 * 100, 2)}


@pytest.mark.parametrize("source", ["rollup", "raw"])
def test_every_metric_answers_for_no_managers(sales, week, source):
    """A group with nobody in it (a viewer's empty scope, a team with no sellers) reads
    as no records, from every metric and its drill-down: no error from a query written
    for an empty list of managers."""
    keys = [m.key for m in registry.all_metrics()]
    values = engine.group_values(keys, week, {"nobody": set()}, source)["nobody"]
    for metric in registry.all_metrics():
        assert values[metric.key] == engine.finish(metric, 0, 0, None), metric.key
        if metric.records is not None:
            assert list(metric.records(week, set())) == [], metric.key
