"""The client-base pages: who sees whose figures, retention, lost reasons, waking a
sleeping client up, and the alert when an A client goes sleeping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert, Kind
from funnelwatch.audit.models import AuditEvent
from funnelwatch.clients import queries, segments
from funnelwatch.clients.models import WakeUp
from funnelwatch.crm import services
from funnelwatch.crm.models import Company, JunkReason, LostReason, Task
from funnelwatch.lib.dates import day_start

pytestmark = pytest.mark.django_db


def _won(owner, company, when, amount):
    deal = services.create_lead(
        actor=owner,
        title=f"{company.name if company else 'no company'} {when:%m-%d}",
        owner=owner,
        company=company,
        amount=amount,
        at=when - dt.timedelta(days=2),
    )
    return services.win(deal, actor=owner, at=when)


@pytest.fixture
def book(world):
    """Alice: Acme (A, sleeping: 1000 won five months ago) and Beta (a new client this
    month, 100, then 50 more). Bob: Gamma (C, 60 won twice)."""
    now = timezone.now()
    alice, bob = world.alice, world.bob
    acme = Company.objects.create(name="Acme", owner=alice, created_at=now - dt.timedelta(400))
    beta = Company.objects.create(name="Beta", owner=alice, created_at=now - dt.timedelta(400))
    gamma = Company.objects.create(name="Gamma", owner=bob, created_at=now - dt.timedelta(400))
    services.create_contact(actor=alice, name="Ann of Acme", owner=alice, company=acme)
    _won(alice, acme, now - dt.timedelta(days=150), 1000)
    _won(alice, beta, now - dt.timedelta(days=6), 100)
    _won(alice, beta, now - dt.timedelta(days=5), 50)
    _won(alice, None, now - dt.timedelta(days=4), 7)
    _won(bob, gamma, now - dt.timedelta(days=200), 30)
    _won(bob, gamma, now - dt.timedelta(days=3), 30)
    segments.store(timezone.localdate())
    return {"acme": acme, "beta": beta, "gamma": gamma}


def test_each_sees_their_own_clients_segment_figures(book, world, client):
    # Total 1210: Acme 1000 (A), Beta 150 (before it 1000 = 82.6 % -> B), Gamma 60 (C).
    expect = {
        world.alice: {"A": (1, Decimal(1000)), "B": (1, Decimal(150)), "C": (0, Decimal(0))},
        world.lead: {"A": (1, Decimal(1000)), "B": (1, Decimal(150)), "C": (0, Decimal(0))},
        world.bob: {"A": (0, Decimal(0)), "B": (0, Decimal(0)), "C": (1, Decimal(60))},
        world.head: {"A": (1, Decimal(1000)), "B": (1, Decimal(150)), "C": (1, Decimal(60))},
    }
    for user, rows in expect.items():
        client.force_login(user)
        response = client.get(reverse("clients:base"))
        assert response.status_code == 200
        got = {r["abc"]: (r["count"], r["revenue"]) for r in response.context["matrix"]["rows"]}
        assert got == rows, user.username


def test_company_page_shows_the_history_to_those_who_see_the_client(book, world, client):
    client.force_login(world.alice)
    response = client.get(reverse("clients:company", args=[book["acme"].pk]))
    assert response.status_code == 200
    assert [s.lifecycle for s in response.context["history"]] == ["sleeping"]
    client.force_login(world.bob)
    assert client.get(reverse("clients:company", args=[book["acme"].pk])).status_code == 404


def test_company_list_filters_and_refuses_unknown_segments(book, world, client):
    client.force_login(world.head)
    response = client.get(reverse("clients:companies"), {"lifecycle": "sleeping"})
    assert [s.company.name for s in response.context["page"]] == ["Acme"]
    response = client.get(reverse("clients:companies"), {"abc": "B"})
    assert [s.company.name for s in response.context["page"]] == ["Beta"]
    assert client.get(reverse("clients:companies"), {"xyz": "W"}).status_code == 400
    assert client.get(reverse("clients:base"), {"month": "2026-13"}).status_code == 400
    assert client.get(reverse("clients:retention"), {"from": "2026-02-30"}).status_code == 400
    assert client.get(reverse("clients:reasons"), {"group": "weather"}).status_code == 400


def test_retention_per_manager(book, world):
    now = timezone.now()
    data = queries.retention(world.head, now - dt.timedelta(days=30), now, queries.latest_month())
    rows = {str(r["manager"]): r for r in data["rows"]}
    alice, bob = rows[str(world.alice)], rows[str(world.bob)]
    # Alice in the last 30 days: Beta's first win 100 (new), its second 50 (existing), 7
    # without a company; Beta bought twice -> repeat 1 of 1.
    assert (alice["won"], alice["new"], alice["existing"], alice["no_company"]) == (
        Decimal(157),
        Decimal(100),
        Decimal(50),
        Decimal(7),
    )
    assert (alice["buyers"], alice["repeat"], alice["repeat_pct"]) == (1, 1, 100)
    assert alice["sleeping"] == 1  # Acme
    # Bob: Gamma's second win (the first was 200 days ago) -> existing, a repeat.
    assert (bob["new"], bob["existing"], bob["repeat_pct"]) == (Decimal(0), Decimal(30), 100)
    assert data["total"]["won"] == Decimal(187)
    assert data["total"]["sleeping"] == 1
    # A manager sees their own row only.
    mine = queries.retention(world.bob, now - dt.timedelta(days=30), now, queries.latest_month())
    assert [str(r["manager"]) for r in mine["rows"]] == [str(world.bob)]


def test_wake_up_sets_one_audited_task_for_the_manager(book, world, client):
    url = reverse("clients:wake", args=[book["acme"].pk])
    client.force_login(world.lead)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    assert client.post(url).status_code == 302
    task = Task.objects.get()
    assert task.assignee == world.alice and task.author == world.lead
    assert task.contact.name == "Ann of Acme" and "Acme" in task.title
    events = list(AuditEvent.objects.filter(id__gt=last))
    assert {e.object_type for e in events} >= {"crm.task", "clients.wakeup"}
    assert all(e.actor_id == world.lead.pk for e in events)
    client.post(url)  # a second press while the task is open sets no second task
    assert Task.objects.count() == 1 and WakeUp.objects.count() == 1
    # Once done, the client can be woken again.
    services.complete_task(task, actor=world.alice)
    client.post(url)
    assert Task.objects.count() == 2


def test_wake_up_refusals(book, world, client):
    client.force_login(world.bob)
    assert client.post(reverse("clients:wake", args=[book["acme"].pk])).status_code == 404
    client.force_login(world.reviewer)
    assert client.post(reverse("clients:wake", args=[book["acme"].pk])).status_code == 403
    client.force_login(world.alice)
    response = client.post(reverse("clients:wake", args=[book["beta"].pk]), follow=True)
    assert "Only a sleeping or lost client" in response.content.decode()
    assert not Task.objects.exists()


def test_recompute_is_for_the_head(book, world, client):
    client.force_login(world.lead)
    assert client.post(reverse("clients:recompute")).status_code == 403
    client.force_login(world.head)
    assert client.post(reverse("clients:recompute")).status_code == 302
    assert AuditEvent.objects.filter(object_type="clients.segmentrun", actor=world.head).exists()


def test_alert_when_an_a_client_goes_sleeping(book, world):
    engine.evaluate(timezone.now(), kinds=[Kind.A_CLIENT_SLEEPING])
    alert = Alert.objects.get(kind=Kind.A_CLIENT_SLEEPING)
    assert alert.manager == world.alice and alert.subject == book["acme"]
    assert "Acme" in alert.message and "1\u202f000" in alert.message
    # It wins again: the next snapshot finds it active and the alert resolves.
    _won(world.alice, book["acme"], timezone.now() - dt.timedelta(hours=1), 10)
    segments.store(timezone.localdate())
    engine.evaluate(timezone.now(), kinds=[Kind.A_CLIENT_SLEEPING])
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_lost_reasons_with_revived_share(world):
    now = timezone.now()
    price = world.lost_reason
    timing = LostReason.objects.create(name="Bad timing")
    wrong = JunkReason.objects.get(name="Wrong number")
    deals = []
    for i, (owner, reason) in enumerate(
        [(world.alice, price), (world.alice, price), (world.alice, timing), (world.bob, price)]
    ):
        deal = services.create_lead(
            actor=owner, title=f"d{i}", owner=owner, amount=10, at=now - dt.timedelta(days=9)
        )
        services.move_stage(
            deal, world.stages["Qualified"], actor=owner, at=now - dt.timedelta(days=8)
        )
        services.lose(deal, reason=reason, actor=owner, at=now - dt.timedelta(days=7))
        deals.append(deal)
    # The first is revived (reopening clears its reason) and then won.
    services.reopen(deals[0], actor=world.alice, at=now - dt.timedelta(days=5))
    services.win(deals[0], actor=world.alice, at=now - dt.timedelta(days=4))
    junk = services.create_lead(
        actor=world.bob, title="j", owner=world.bob, at=now - dt.timedelta(days=3)
    )
    services.mark_junk(junk, reason=wrong, actor=world.bob, at=now - dt.timedelta(days=2))

    tz = timezone.get_current_timezone()
    start = day_start(timezone.localdate() - dt.timedelta(days=30), tz)
    end = now + dt.timedelta(minutes=1)
    data = queries.reasons(world.head, start, end, "lost", "manager")
    by_reason = {r["reason"]: r for r in data["reasons"]}
    assert (by_reason["Too expensive"]["count"], by_reason["Too expensive"]["revived"]) == (3, 1)
    assert by_reason["Too expensive"]["revived_pct"] == 33
    assert by_reason["Too expensive"]["won"] == 1
    assert (by_reason["Bad timing"]["count"], by_reason["Bad timing"]["revived"]) == (1, 0)
    rows = {(r["group"], r["reason"]): r["count"] for r in data["rows"]}
    assert rows == {
        (str(world.alice), "Too expensive"): 2,
        (str(world.alice), "Bad timing"): 1,
        (str(world.bob), "Too expensive"): 1,
    }
    by_stage = queries.reasons(world.head, start, end, "lost", "stage")
    assert {r["group"] for r in by_stage["rows"]} == {"Qualified"}
    junked = queries.reasons(world.head, start, end, "junk", "manager")
    assert [(r["reason"], r["count"]) for r in junked["reasons"]] == [("Wrong number", 1)]
    # Bob sees his own losses only.
    assert queries.reasons(world.bob, start, end, "lost", "manager")["total"] == 1


@pytest.mark.parametrize(
    "url,query,field",
    [
        ("clients:base", {"month": "0001-01"}, "month"),
        ("clients:base", {"month": "9999-12"}, "month"),
        ("clients:base", {"month": "2026-1"}, "month"),
        ("clients:companies", {"month": "tomorrow"}, "month"),
        ("clients:companies", {"q": "a\x00b"}, "q"),
        ("clients:companies", {"lifecycle": "a\x00b"}, "lifecycle"),
        ("clients:retention", {"from": "0001-01-01"}, "from"),
        ("clients:retention", {"to": "3000-01-01"}, "to"),
        ("clients:retention", {"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ("clients:reasons", {"from": "2026-02-30"}, "from"),
        ("clients:reasons", {"kind": "won"}, "kind"),
    ],
)
def test_bad_query_values_are_400_naming_them(world, client, url, query, field):
    client.force_login(world.head)
    response = client.get(reverse(url), query)
    assert response.status_code == 400
    assert field in response.content.decode()


def test_edge_values_that_are_fine(book, world, client):
    client.force_login(world.head)
    wide = {"from": "1900-01-01", "to": "2999-12-31"}
    assert client.get(reverse("clients:retention"), wide).status_code == 200
    assert client.get(reverse("clients:reasons"), wide).status_code == 200
    assert client.get(reverse("clients:base"), {"month": "1900-01"}).status_code == 200
    assert client.get(reverse("clients:companies"), {"page": "99999"}).status_code == 200
    for pk in (2**63, 2**64):
        url = reverse("clients:company", args=[pk])
        assert client.get(url).status_code == 404
        assert client.post(reverse("clients:wake", args=[pk])).status_code == 404
