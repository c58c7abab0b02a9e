from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from funnelwatch.crm import services
from funnelwatch.plans.models import Plan
from funnelwatch.plans.progress import progress


@pytest.fixture
def march_plan(world):
    return Plan.objects.create(
        title="March revenue",
        metric="won_amount",
        target=Decimal(1000),
        manager=world.alice,
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 13),
        created_by=world.head,
    )


def _won(world, at, amount, when):
    deal = services.create_lead(
        actor=world.alice,
        title="D",
        owner=world.alice,
        amount=amount,
        at=when - dt.timedelta(hours=1),
    )
    services.win(deal, actor=world.alice, at=when)


def test_progress_fact_pace_and_risk(world, at, march_plan, django_capture_on_commit_callbacks):
    # Two working weeks, 10 working days. 400 won in the first week (5 working days).
    with django_capture_on_commit_callbacks(execute=True):
        _won(world, at, 300, at(2026, 3, 3, 12))
        _won(world, at, 100, at(2026, 3, 5, 12))
        _won(world, at, 999, at(2026, 3, 16, 12))  # after the plan: not counted
    p = progress(march_plan, dt.date(2026, 3, 9))
    assert p.fact == Decimal(400)
    assert p.pct == Decimal("40.0")
    assert p.expected_pct == Decimal("50.0")
    assert p.days_left == 5
    assert p.pace_needed == Decimal("120.00")  # 600 left over 5 working days
    assert p.best_pace == Decimal("80.00")  # 400 over the 5 working days of one week
    assert p.at_risk


def test_plan_not_at_risk_when_recent_pace_suffices(
    world, at, march_plan, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _won(world, at, 900, at(2026, 3, 4, 12))
    p = progress(march_plan, dt.date(2026, 3, 9))
    assert p.pace_needed == Decimal("20.00") and not p.at_risk


def test_plan_list_visibility(client, world, march_plan):
    bob_plan = Plan.objects.create(
        title="Bob's plan",
        metric="won_amount",
        target=5,
        manager=world.bob,
        first_day=dt.date.today(),
        last_day=dt.date.today(),
    )
    march_plan.first_day = march_plan.last_day = dt.date.today()
    march_plan.save()
    client.force_login(world.alice)
    content = client.get(reverse("plans:list")).content.decode()
    assert "March revenue" in content and bob_plan.title not in content
    client.force_login(world.head)
    content = client.get(reverse("plans:list")).content.decode()
    assert "March revenue" in content and "Bob&#x27;s plan" in content
    # The measure by its name, not the metric's key.
    assert "Won amount" in content and "won_amount" not in content


def test_only_head_or_team_lead_sets_plans(client, world):
    client.force_login(world.alice)
    assert client.get(reverse("plans:create")).status_code == 403
    client.force_login(world.head)
    response = client.post(
        reverse("plans:create"),
        {
            "title": "Q2",
            "metric": "won_amount",
            "target": "-5",
            "first_day": "2026-04-01",
            "last_day": "2026-03-01",
            "team": world.north.pk,
            "manager": world.alice.pk,
        },
    )
    errors = response.context["form"].errors
    assert {"target", "last_day", "team"} <= set(errors)
    assert not Plan.objects.exists()
    response = client.post(
        reverse("plans:create"),
        {
            "title": "Q2",
            "metric": "won_amount",
            "target": "5000",
            "first_day": "2026-04-01",
            "last_day": "2026-06-30",
            "team": world.north.pk,
        },
    )
    assert response.status_code == 302
    assert Plan.objects.get().created_by == world.head
