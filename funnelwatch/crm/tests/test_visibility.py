from __future__ import annotations

import pytest
from django.urls import reverse

from funnelwatch.crm import services
from funnelwatch.crm.models import Note


@pytest.fixture
def deals(world):
    a = services.create_lead(actor=world.alice, title="Alice's deal", owner=world.alice)
    b = services.create_lead(actor=world.bob, title="Bob's deal", owner=world.bob)
    return a, b


def _get(client, user, url):
    client.force_login(user)
    return client.get(url)


@pytest.mark.parametrize(
    "viewer,allowed",
    [
        ("alice", True),
        ("lead", True),
        ("head", True),
        ("reviewer", True),
        ("bob", False),
        ("outsider", False),
    ],
)
def test_deal_page(client, world, deals, viewer, allowed):
    alice_deal, _ = deals
    response = _get(client, getattr(world, viewer), reverse("crm:deal", args=[alice_deal.pk]))
    if allowed:
        assert response.status_code == 200
        assert b"Alice&#x27;s deal" in response.content
    else:
        assert response.status_code == 404
        assert b"Alice" not in response.content


@pytest.mark.parametrize("url_name", ["crm:deals", "crm:board"])
def test_lists_show_only_visible_deals(client, world, deals, url_name):
    url = reverse(url_name) + ("?status=open" if url_name == "crm:deals" else "")
    content = _get(client, world.alice, url).content
    assert b"Alice&#x27;s deal" in content and b"Bob&#x27;s deal" not in content
    content = _get(client, world.lead, url).content  # North's lead: alice yes, bob no
    assert b"Alice&#x27;s deal" in content and b"Bob&#x27;s deal" not in content
    content = _get(client, world.head, url).content
    assert b"Alice&#x27;s deal" in content and b"Bob&#x27;s deal" in content


def test_anonymous_is_sent_to_login(client, deals):
    response = client.get(reverse("crm:deals"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_manager_cannot_act_on_another_managers_deal(client, world, deals):
    _, bob_deal = deals
    client.force_login(world.alice)
    response = client.post(reverse("crm:deal_action", args=[bob_deal.pk, "note"]), {"text": "x"})
    assert response.status_code == 404
    assert not Note.objects.exists()


def test_contacts_and_tasks_follow_deal_visibility(client, world):
    contact = services.create_contact(
        actor=world.bob, name="Bob's client", owner=world.bob, phone_numbers=["99112233"]
    )
    services.create_lead(actor=world.bob, title="B", owner=world.bob, contact=contact)
    assert _get(client, world.alice, reverse("crm:contact", args=[contact.pk])).status_code == 404
    assert b"Bob&#x27;s client" not in _get(client, world.alice, reverse("crm:contacts")).content
    assert _get(client, world.bob, reverse("crm:contact", args=[contact.pk])).status_code == 200
    assert _get(client, world.head, reverse("crm:contact", args=[contact.pk])).status_code == 200


def test_api_deals_are_narrowed(client, world, deals):
    client.force_login(world.alice)
    titles = {d["title"] for d in client.get("/api/crm/deals").json()}
    assert titles == {"Alice's deal"}
    assert client.get(f"/api/crm/deals/{deals[1].pk}").status_code == 404


def test_api_token_auth(client, world, deals):
    from funnelwatch.accounts.tokens import issue_token

    token = issue_token(world.bob, "script")
    response = client.get("/api/crm/deals", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert {d["title"] for d in response.json()} == {"Bob's deal"}
    assert client.get("/api/crm/deals", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_counts_do_not_grow_with_deals(client, world, django_assert_max_num_queries):
    client.force_login(world.head)
    for i in range(3):
        services.create_lead(actor=world.alice, title=f"Deal {i}", owner=world.alice)
    few = {url: _queries(client, reverse(url)) for url in ("crm:deals", "crm:board")}
    for i in range(40):
        deal = services.create_lead(actor=world.bob, title=f"More {i}", owner=world.bob)
        if i % 2:
            services.move_stage(deal, world.stages["Qualified"], actor=world.bob)
    many = {url: _queries(client, reverse(url)) for url in ("crm:deals", "crm:board")}
    assert many == few
    with django_assert_max_num_queries(8):
        client.get(reverse("crm:deals"))
    # one per open stage for its cards, plus a fixed few
    with django_assert_max_num_queries(8 + len([s for s in world.stages.values() if s.is_open])):
        client.get(reverse("crm:board"))


def test_task_list_shows_only_visible_tasks(client, world, deals, at):
    alice_deal, bob_deal = deals
    services.create_task(
        actor=world.alice,
        title="Alice calls",
        assignee=world.alice,
        due_at=at(2026, 3, 4, 10),
        deal=alice_deal,
    )
    task = services.create_task(
        actor=world.bob,
        title="Bob calls",
        assignee=world.bob,
        due_at=at(2026, 3, 4, 10),
        deal=bob_deal,
    )
    content = _get(client, world.alice, reverse("crm:tasks")).content
    assert b"Alice calls" in content and b"Bob calls" not in content
    content = _get(client, world.head, reverse("crm:tasks")).content
    assert b"Alice calls" in content and b"Bob calls" in content
    # Alice cannot tick off Bob's task.
    client.force_login(world.alice)
    assert client.post(reverse("crm:task_done", args=[task.pk])).status_code == 404
    task.refresh_from_db()
    assert task.done_at is None


def test_reviewer_reads_but_cannot_change_the_crm(client, world, deals):
    alice_deal, _ = deals
    client.force_login(world.reviewer)
    assert client.get(reverse("crm:deal", args=[alice_deal.pk])).status_code == 200
    response = client.post(reverse("crm:deal_action", args=[alice_deal.pk, "note"]), {"text": "x"})
    assert response.status_code == 403
    assert client.get(reverse("crm:deal_create")).status_code == 403
    response = client.post(
        f"/api/crm/deals/{alice_deal.pk}/move",
        {"stage_id": world.stages["Qualified"].pk},
        content_type="application/json",
    )
    assert response.status_code in (403, 401)
    alice_deal.refresh_from_db()
    assert alice_deal.stage == world.stages["New lead"]
    assert not Note.objects.exists()
