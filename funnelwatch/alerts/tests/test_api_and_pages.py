from __future__ import annotations

import json

import pytest
import time_machine
from django.core.management import call_command

from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert, Kind, RuleSettings, Status
from funnelwatch.core import periodic
from funnelwatch.crm import services as crm

KEYS = {"id", "kind", "manager", "subject", "numbers", "message", "opened_at", "status"}


@pytest.fixture
def alerts(world, at):
    RuleSettings.objects.create(hygiene_deals_without_task=100, hygiene_overdue_tasks=100)
    for owner in (world.alice, world.bob):
        crm.create_lead(
            actor=owner, title=f"Stuck {owner.username}", owner=owner, at=at(2026, 3, 2, 10)
        )
    with time_machine.travel(at(2026, 3, 6, 10), tick=False):
        engine.evaluate()
    return Alert.objects.all()


def test_api_lists_open_alerts_by_visibility(client, world, alerts, django_assert_num_queries):
    client.force_login(world.head)
    with django_assert_num_queries(3):  # session, user, alerts with their managers
        response = client.get("/api/alerts?status=open")
    assert response.status_code == 200
    rows = response.json()
    assert {r["manager"] for r in rows} == {"alice", "bob"}
    assert set(rows[0]) == KEYS
    assert rows[0]["kind"] == "stalled_deal" and rows[0]["subject"].startswith("deal:")
    assert client.get("/api/alerts/?status=open").json() == rows

    client.force_login(world.lead)
    assert {r["manager"] for r in client.get("/api/alerts?status=open").json()} == {"alice"}
    client.force_login(world.outsider)
    assert client.get("/api/alerts?status=open").json() == []
    assert client.get("/api/alerts?status=resolved").json() == []
    client.logout()
    assert client.get("/api/alerts?status=open").status_code == 401


def test_cli_lists_alerts_as_json(world, alerts, capsys):
    call_command("alerts", "--status", "open", "--format", "json")
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(set(r) >= KEYS for r in rows)
    call_command("alerts", "--status", "open", "--user", "alice")
    out = capsys.readouterr().out
    assert "Stuck alice" in out and "Stuck bob" not in out


def test_alert_list_page(client, world, alerts, django_assert_max_num_queries):
    client.force_login(world.alice)
    with django_assert_max_num_queries(8):
        response = client.get("/alerts/")
    assert response.status_code == 200
    assert b"Stuck alice" in response.content and b"Stuck bob" not in response.content
    assert b"Snooze" not in response.content
    client.force_login(world.head)
    response = client.get("/alerts/")
    assert b"Stuck bob" in response.content and b"Snooze" in response.content
    client.logout()
    assert client.get("/alerts/").status_code == 302


def test_snooze_from_the_page(client, world, alerts, at):
    deal = Alert.objects.get(manager=world.alice).subject
    client.force_login(world.alice)
    response = client.post(f"/alerts/snooze/{deal.pk}/", {"until": "2026-12-31", "reason": "x"})
    assert response.status_code == 403
    client.force_login(world.head)
    client.post(f"/alerts/snooze/{deal.pk}/", {"until": "2026-12-31", "reason": "Tender"})
    assert Alert.objects.get(manager=world.alice).status == Status.SNOOZED


def test_morning_page(client, world, alerts, at, django_assert_max_num_queries):
    deal = Alert.objects.get(manager=world.alice).subject
    crm.schedule_meeting(
        deal, actor=world.alice, scheduled_at=at(2026, 3, 6, 15), at=at(2026, 3, 5, 10)
    )
    with time_machine.travel(at(2026, 3, 6, 9), tick=False):
        client.force_login(world.lead)
        with django_assert_max_num_queries(25):
            response = client.get("/alerts/morning/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "Stuck alice" in page and "Stuck bob" not in page
        assert "15:00" in page  # today's meeting
        assert "2026-03-05" in page  # yesterday's numbers
        client.force_login(world.alice)
        assert client.get("/alerts/morning/").status_code == 403


def test_periodic_jobs_are_registered_and_idempotent(world, alerts, at):
    assert {"alerts.evaluate", "alerts.digests"} <= set(periodic.JOBS)
    with time_machine.travel(at(2026, 3, 6, 11), tick=False):
        periodic.run_due(only="alerts.evaluate", force=True)
        periodic.run_due(only="alerts.evaluate", force=True)
    assert Alert.objects.filter(kind=Kind.STALLED_DEAL, resolved_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    "url",
    ["/alerts/", "/alerts/morning/", "/alerts/lost/", "/alerts/forecast/", "/alerts/digests/"],
)
def test_pages_need_a_login(client, world, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_team_lead_and_head_open_the_leaders_pages(client, world):
    for user, code in [
        (world.head, 200),
        (world.lead, 200),
        (world.bob, 403),
        (world.reviewer, 403),
    ]:
        client.force_login(user)
        assert client.get("/alerts/morning/").status_code == code
        assert client.get("/alerts/lost/").status_code == code


def test_thresholds_page_per_team(client, world):
    client.force_login(world.lead)
    assert client.get("/alerts/thresholds/").status_code == 403
    client.force_login(world.head)
    assert client.get("/alerts/thresholds/").status_code == 200
    data = {
        "activity_drop_pct": 40,
        "activity_mad_k": 2,
        "activity_min_usual": 2,
        "meeting_proposal_days": 5,
        "hygiene_deals_without_task": 3,
        "hygiene_overdue_tasks": 5,
        "lookback_days": 14,
    }
    client.post("/alerts/thresholds/", {**data, "team": ""})
    response = client.get(f"/alerts/thresholds/?team={world.north.pk}")
    assert response.context["form"].initial["activity_drop_pct"] == 40  # from the default
    client.post("/alerts/thresholds/", {**data, "activity_drop_pct": 50, "team": world.north.pk})
    assert RuleSettings.objects.get(team=None).activity_drop_pct == 40
    assert RuleSettings.objects.get(team=world.north).activity_drop_pct == 50
