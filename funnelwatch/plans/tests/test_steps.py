from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.plans.models import Plan, PlanStep


@pytest.fixture
def plan(world):
    today = dt.date.today()
    return Plan.objects.create(
        title="Alice's month",
        target=1000,
        manager=world.alice,
        first_day=today,
        last_day=today + dt.timedelta(days=30),
    )


def test_lead_adds_a_step_and_the_owner_moves_it(client, world, plan):
    client.force_login(world.lead)
    client.post(
        reverse("plans:step_add", args=[plan.pk]),
        {
            "title": "Call the ten largest clients",
            "resources": "Client list, two hours a day",
            "owner": world.alice.pk,
            "due_date": "2099-01-31",
        },
    )
    step = PlanStep.objects.get()
    assert (step.owner, step.due_date, step.progress_pct) == (
        world.alice,
        dt.date(2099, 1, 31),
        0,
    )
    client.force_login(world.alice)
    page = client.get(reverse("plans:list")).content.decode()
    assert "Call the ten largest clients" in page and "Client list" in page
    client.post(reverse("plans:step_progress", args=[step.pk]), {"progress": "40"})
    step.refresh_from_db()
    assert step.progress_pct == 40
    assert AuditEvent.objects.filter(
        object_type="plans.planstep", object_id=str(step.pk), actor=world.alice, action="update"
    ).exists()
    # Out of range: refused, unchanged.
    assert (
        client.post(reverse("plans:step_progress", args=[step.pk]), {"progress": "140"}).status_code
        == 400
    )
    step.refresh_from_db()
    assert step.progress_pct == 40


def test_bad_step_is_refused_and_nothing_written(client, world, plan):
    client.force_login(world.lead)
    client.post(reverse("plans:step_add", args=[plan.pk]), {"title": "", "owner": world.alice.pk})
    client.post(
        reverse("plans:step_add", args=[plan.pk]),
        {"title": "x", "owner": world.bob.pk, "due_date": "2099-01-01"},  # not the lead's
    )
    assert not PlanStep.objects.exists()
    client.force_login(world.alice)
    assert (
        client.post(
            reverse("plans:step_add", args=[plan.pk]),
            {"title": "Mine", "owner": world.alice.pk, "due_date": "2099-01-01"},
        ).status_code
        == 403
    )
