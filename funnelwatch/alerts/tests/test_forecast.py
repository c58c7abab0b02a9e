from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from funnelwatch.alerts import forecast
from funnelwatch.alerts.tests.conftest import workdays_between
from funnelwatch.crm import services as crm


@pytest.fixture
def history(world, at):
    """Closed last year: three deals won from "Proposal sent" (one after 40 days there),
    one lost from it, one lost straight from "New lead"."""
    s = world.stages

    def deal(title, days_in_proposal, outcome):
        d = crm.create_lead(actor=world.bob, title=title, owner=world.bob, at=at(2025, 10, 1, 10))
        if days_in_proposal is not None:
            crm.move_stage(d, s["Proposal sent"], actor=world.bob, at=at(2025, 10, 2, 10))
            closed = at(2025, 10, 2, 10) + dt.timedelta(days=days_in_proposal)
        else:
            closed = at(2025, 10, 3, 10)
        if outcome == "won":
            crm.win(d, actor=world.bob, at=closed)
        else:
            crm.lose(d, reason=world.lost_reason, actor=world.bob, at=closed)

    deal("won fast 1", 2, "won")
    deal("won fast 2", 3, "won")
    deal("won slow", 40, "won")
    deal("lost in proposal", 2, "lost")
    deal("lost as lead", None, "lost")


@pytest.fixture
def open_deals(world, at):
    a = crm.create_lead(
        actor=world.alice,
        title="In proposal",
        owner=world.alice,
        amount=1000,
        at=at(2026, 3, 1, 10),
    )
    crm.move_stage(a, world.stages["Proposal sent"], actor=world.alice, at=at(2026, 3, 9, 10))
    b = crm.create_lead(
        actor=world.alice,
        title="In objections",
        owner=world.alice,
        amount=2000,
        at=at(2026, 3, 1, 10),
    )
    crm.move_stage(b, world.stages["Objections"], actor=world.alice, at=at(2026, 3, 9, 10))
    return a, b


def test_history_cells_by_stage_and_age(world, history, at):
    hist = forecast.history(at(2026, 3, 10, 10))
    assert (hist.closed, hist.won) == (5, 3)
    cell = hist.cells[(world.stages["Proposal sent"].pk, 0)]
    assert (cell.trials, cell.wins, cell.wins_in_horizon) == (4, 3, 2)
    # Only the slow one stayed 7+ and 30+ days; it was won 33 days after reaching 7 days.
    assert hist.cells[(world.stages["Proposal sent"].pk, 1)].wins_in_horizon == 0


def test_forecast_by_hand(world, history, open_deals, at, metrics):
    """Prior: 3 won of 5 closed -> 0.6, as 4 deals: alpha 2.4, beta 1.6.
    In proposal: (3 + 2.4) / (4 + 4) = 0.675, 2 of 3 wins within 30 days:
        1000 x 0.675 x 2/3 = 450.
    In objections: no history, the prior alone 0.6, timing 1: 2000 x 0.6 = 1200."""
    (row,) = [
        f
        for f in forecast.forecast_for(world.head, at(2026, 3, 10, 10))
        if f.manager == world.alice
    ]
    by_title = {d.deal.title: d for d in row.deals}
    assert by_title["In proposal"].chance == pytest.approx(0.675)
    assert by_title["In proposal"].timing == pytest.approx(2 / 3, abs=1e-4)
    assert by_title["In proposal"].expected == Decimal("450.00")
    assert by_title["In objections"].expected == Decimal("1200.00")
    assert row.effect == 1.0 and row.total == Decimal("1650.00")


def test_activity_trend_moves_the_forecast(world, history, open_deals, at, metrics):
    """CRM actions at half the usual: effect 1 + 0.5 x (0.5 - 1) = 0.75 -> 1237.50."""
    metrics.add("crm_actions")
    metrics.set(
        "crm_actions", world.alice, workdays_between(dt.date(2026, 2, 1), dt.date(2026, 3, 3)), 10
    )
    metrics.set(
        "crm_actions", world.alice, workdays_between(dt.date(2026, 3, 3), dt.date(2026, 3, 10)), 5
    )
    (row,) = [f for f in forecast.forecast_for(world.alice, at(2026, 3, 10, 10))]
    assert row.trend_ratio == pytest.approx(0.5)
    assert row.effect == 0.75 and row.total == Decimal("1237.50")


def test_manager_sees_only_their_forecast(client, world, history, open_deals):
    client.force_login(world.bob)
    response = client.get("/alerts/forecast/")
    assert response.status_code == 200
    assert b"In proposal" not in response.content
    client.force_login(world.alice)
    assert b"In proposal" in client.get("/alerts/forecast/").content
    client.logout()
    assert client.get("/alerts/forecast/").status_code == 302


def test_forecast_shows_the_plan_beside_it(client, world, open_deals, at):
    from funnelwatch.alerts.rules import plan_progress

    if plan_progress() is None:
        pytest.skip("no plans app")
    from funnelwatch.plans.models import Plan

    Plan.objects.create(
        title="Q",
        metric="won_amount",
        target=5000,
        manager=world.alice,
        first_day=dt.date(2026, 3, 1),
        last_day=dt.date(2026, 3, 31),
        created_by=world.head,
    )
    import time_machine

    with time_machine.travel(at(2026, 3, 10, 10), tick=False):
        client.force_login(world.alice)
        response = client.get("/alerts/forecast/")
    (row,) = response.context["rows"]
    assert row.plan.plan.target == 5000 and row.plan.fact == 0
