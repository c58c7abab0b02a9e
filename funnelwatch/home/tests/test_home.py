"""The home page: what needs attention ranked, a card per manager with the numbers that
changed against their own usual (counted by hand here), yesterday, and today's lists —
for each role only what that role may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from funnelwatch.alerts.models import Alert, Kind
from funnelwatch.crm import services as crm
from funnelwatch.home import today
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.models import DailyValue

pytestmark = pytest.mark.django_db

NOW = (2026, 3, 11, 12)  # a Wednesday


@pytest.fixture
def frozen(at):
    with time_machine.travel(at(*NOW), tick=False):
        yield at(*NOW)


@pytest.fixture
def calls(world, frozen):
    """Outbound calls: 10 a day for nine weeks; Alice's last seven days 1 a day."""
    last = frozen.date()
    days = [last - dt.timedelta(days=i) for i in range(1, 7 * 9 + 1)]
    rows = []
    for person in (world.alice, world.bob):
        for day in days:
            low = person == world.alice and day >= last - dt.timedelta(days=7)
            value = 1 if low else 10
            rows.append(
                DailyValue(
                    metric="calls_out", manager=person, day=day, value=value, weight=Decimal(0)
                )
            )
    DailyValue.objects.bulk_create(rows)
    engine.roll_weeks(Period(min(days), last), None, ["calls_out"])
    engine.forget_answers()


@pytest.fixture
def alerts(world):
    deal = crm.create_lead(actor=world.bob, title="Bob's big one", owner=world.bob)
    Alert.objects.create(
        kind=Kind.STALLED_DEAL,
        manager=world.bob,
        cause_key=f"stalled_deal:{deal.pk}",
        numbers={
            "deal": deal.pk,
            "title": deal.title,
            "stage": "New",
            "days_in_stage": 4,
            "norm_days": 1,
        },
        message="stalled",
    )
    Alert.objects.create(
        kind=Kind.ACTIVITY_DROP,
        manager=world.alice,
        cause_key=f"activity_drop:{world.alice.pk}:calls_out",
        numbers={"metric": "calls_out", "value": 5, "usual": 50, "change_pct": -90, "days": 5},
        message="drop",
    )


def test_a_card_shows_the_change_large_for_that_manager(world, calls, frozen):
    week = Period(frozen.date() - dt.timedelta(days=7), frozen.date())
    cards = {c.person: c for c in today.cards([world.alice, world.bob], week, [])}
    (change,) = cards[world.alice].changes
    # 7 calls in the last seven days against 70 in each of the eight weeks before.
    assert change.metric.key == "calls_out" and change.value == 7 and change.usual == 70
    assert change.tone == "bad" and change.z < -2.5
    assert cards[world.bob].changes == []  # his weeks are all alike: nothing changed
    assert ("calls_out", 70) in [(m.key, v) for m, v in cards[world.bob].usual]
    assert f"manager={world.alice.pk}" in cards[world.alice].query


def test_heads_home_ranks_the_activity_drop_first(client, world, calls, alerts, frozen):
    client.force_login(world.head)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index('data-manager="alice"') < page.index('data-manager="bob"')
    first = response.context["page"].groups[0]
    assert first.manager == world.alice and first.drops
    assert "Needs attention today" in page and "Bob&#x27;s big one" in page
    # The card's number opens the records behind it, for that manager and those days.
    assert (
        f"/metrics/records/calls_out/?period=custom&amp;from=2026-03-04&amp;to=2026-03-10"
        f"&amp;manager={world.alice.pk}" in page
    )
    assert "usually 70" in page


def test_managers_home_is_their_own(client, world, calls, alerts, frozen):
    client.force_login(world.bob)
    response = client.get("/")
    page = response.content.decode()
    assert "What the head sees about you" in page and "Bob&#x27;s big one" in page
    assert 'data-manager="alice"' not in page
    assert [c.person for c in response.context["page"].cards] == [world.bob]
    assert "Resolve" not in page  # a manager does not resolve their own warnings


def test_team_lead_sees_the_team(client, world, calls, alerts, frozen):
    client.force_login(world.lead)
    response = client.get("/")
    assert [g.manager for g in response.context["page"].groups] == [world.alice]
    assert [c.person for c in response.context["page"].cards] == [world.alice]


def test_reviewer_gets_the_review_queue_and_no_sales_warnings(client, world, alerts, frozen):
    client.force_login(world.reviewer)
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Calls to review" in page and "Needs attention" not in page
    assert response.context["page"].groups == []


def test_today_lists_due_tasks_and_meetings(client, world, frozen):
    deal = crm.create_lead(actor=world.alice, title="Acme", owner=world.alice)
    crm.create_task(
        actor=world.alice,
        deal=deal,
        title="Call Acme back",
        assignee=world.alice,
        due_at=frozen + dt.timedelta(hours=2),
    )
    crm.create_task(
        actor=world.alice,
        deal=deal,
        title="Next week's call",
        assignee=world.alice,
        due_at=frozen + dt.timedelta(days=7),
    )
    client.force_login(world.alice)
    page = client.get("/").content.decode()
    assert "Call Acme back" in page and "Next week&#x27;s call" not in page
    client.force_login(world.head)
    assert "Call Acme back" in client.get("/").content.decode()  # a callback due today
    client.force_login(world.bob)
    assert "Call Acme back" not in client.get("/").content.decode()


def test_home_needs_a_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
