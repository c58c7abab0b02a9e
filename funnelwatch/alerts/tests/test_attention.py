"""The ranked alert list: grouped by manager, activity drops first, then money at risk,
one line per deal; resolving and snoozing from it; waits people can read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import translation

from funnelwatch.alerts import attention, messages
from funnelwatch.alerts.models import Alert, Kind, Status
from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services as crm

pytestmark = pytest.mark.django_db


def deal(owner, title, amount):
    d = crm.create_lead(actor=owner, title=title, owner=owner)
    d.amount = Decimal(amount)
    d.save(update_fields=["amount"])
    return d


def alert(kind, manager, key, **numbers):
    return Alert.objects.create(
        kind=kind, manager=manager, cause_key=key, numbers=numbers, message=key
    )


@pytest.fixture
def alerts(world):
    big = deal(world.bob, "Big", "900000")
    small = deal(world.alice, "Small", "1000")
    other = deal(world.alice, "Other", "5000")
    for kind in (Kind.STALLED_DEAL, Kind.MEETING_WITHOUT_PROPOSAL):
        alert(
            kind,
            world.bob,
            f"{kind}:{big.pk}",
            deal=big.pk,
            title="Big",
            stage="Qualified",
            days_in_stage=9,
            norm_days=3,
            amount="900000",
            days=1,
            limit_days=3,
        )
    alert(
        Kind.LEAD_NOT_CALLED,
        world.alice,
        f"lead:{small.pk}",
        deal=small.pk,
        title="Small",
        minutes=1644,
        sla_minutes=15,
    )
    alert(
        Kind.STALLED_DEAL,
        world.alice,
        f"stalled:{other.pk}",
        deal=other.pk,
        title="Other",
        stage="Qualified",
        days_in_stage=1,
        norm_days=1,
        amount="5000",
    )
    alert(
        Kind.ACTIVITY_DROP,
        world.alice,
        "drop",
        metric="calls_out",
        value=9,
        usual=55,
        change_pct=-84,
        days=5,
    )
    return {"big": big, "small": small, "other": other}


def test_activity_drop_ranks_first_then_money_at_risk(world, alerts):
    groups = attention.rank(Alert.objects.select_related("manager"))
    # Alice has far less money at risk than Bob, but her activity dropped.
    assert [g.manager for g in groups] == [world.alice, world.bob]
    alice, bob = groups
    assert [a.kind for a in alice.drops] == [Kind.ACTIVITY_DROP]
    assert alice.money_at_risk == Decimal("6000") and bob.money_at_risk == Decimal("900000")
    # Deals by amount inside a group; one line per deal with each rule's reason.
    assert [line.title for line in alice.deals] == ["Other", "Small"]
    assert len(bob.deals) == 1 and len(bob.deals[0].alerts) == 2
    assert bob.deals[0].stalled is not None


def test_without_drops_more_money_at_risk_ranks_first(world, alerts):
    Alert.objects.filter(kind=Kind.ACTIVITY_DROP).delete()
    groups = attention.rank(Alert.objects.select_related("manager"))
    assert [g.manager for g in groups] == [world.bob, world.alice]


def test_waits_and_days_read_as_people_say_them():
    assert messages.wait(40) == "40 min"
    assert messages.wait(60 * 5 + 10) == "5 h 10 min"
    # A working day is 9 hours (09:00–18:00).
    assert messages.wait(9 * 60 * 3 + 4 * 60) == "3 days 4 h"
    assert messages.wait(9 * 60) == "1 day"
    assert messages.days(1) == "1 day" and messages.days(5) == "5 days"
    text = messages.render(
        Kind.STALLED_DEAL, {"title": "T", "stage": "S", "days_in_stage": 1, "norm_days": 1}
    )
    assert "for 1 day (norm 1 day)" in text
    with translation.override("ru"):
        assert messages.days(1) == "1 день" and messages.days(3) == "3 дня"
        assert messages.days(5) == "5 дней"


@override_settings(FUNNELWATCH_WORKDAY_START=8, FUNNELWATCH_WORKDAY_END=20)
def test_a_working_day_is_as_long_as_the_company_works():
    assert messages.wait(12 * 60 + 30) == "1 day"
    assert messages.wait(12 * 60 * 2 + 60) == "2 days 1 h"


def test_alert_page_groups_by_manager_in_rank_order(client, world, alerts):
    client.force_login(world.head)
    page = client.get("/alerts/").content.decode()
    assert page.index('data-manager="alice"') < page.index('data-manager="bob"')
    assert page.count(f'data-deal="{alerts["big"].pk}"') == 1  # two rules, one line
    assert "for 9 days (norm 3 days)" in page
    assert "1 day ago" in page and "27 h" not in page
    client.force_login(world.bob)
    page = client.get("/alerts/").content.decode()
    assert 'data-manager="alice"' not in page and "Resolve" not in page


def test_resolving_a_deal_line_resolves_its_alerts_and_is_audited(client, world, alerts):
    first = Alert.objects.get(kind=Kind.STALLED_DEAL, manager=world.bob)
    client.force_login(world.lead)  # leads team North: not Bob's
    assert client.post(f"/alerts/{first.pk}/resolve/").status_code == 404
    client.force_login(world.bob)  # a manager does not resolve their own warnings
    assert client.post(f"/alerts/{first.pk}/resolve/").status_code == 403
    assert not Alert.objects.filter(status=Status.RESOLVED).exists()
    client.force_login(world.head)
    response = client.post(f"/alerts/{first.pk}/resolve/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    done = Alert.objects.filter(manager=world.bob, status=Status.RESOLVED)
    assert done.count() == 2 and all(a.resolved_at for a in done)
    events = AuditEvent.objects.filter(object_type="alerts.alert", actor_id=world.head.pk)
    assert events.count() == 2
    # Alice's alerts are another manager's: untouched. A second post changes nothing.
    assert Alert.objects.filter(manager=world.alice, resolved_at__isnull=True).count() == 3
    client.post(f"/alerts/{first.pk}/resolve/")
    assert AuditEvent.objects.filter(object_type="alerts.alert").count() == 2


def test_team_lead_resolves_their_managers_alerts(client, world, alerts):
    drop = Alert.objects.get(kind=Kind.ACTIVITY_DROP)
    client.force_login(world.lead)
    client.post(f"/alerts/{drop.pk}/resolve/", {"next": "https://evil.test/"})
    drop.refresh_from_db()
    assert drop.status == Status.RESOLVED
    # Only the drop: it names no deal.
    assert Alert.objects.filter(manager=world.alice, resolved_at__isnull=True).count() == 2


def test_resolve_refuses_get_and_an_outside_next(client, world, alerts):
    drop = Alert.objects.get(kind=Kind.ACTIVITY_DROP)
    client.force_login(world.head)
    assert client.get(f"/alerts/{drop.pk}/resolve/").status_code == 405
    response = client.post(f"/alerts/{drop.pk}/resolve/", {"next": "https://evil.test/"})
    assert response["Location"] == "/alerts/"
