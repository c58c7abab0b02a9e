from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from funnelwatch.crm import services
from funnelwatch.crm.models import Deal, StageChange

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_head_logs_in_opens_the_board_and_moves_a_deal(page: Page, live_server, world):
    deal = services.create_lead(
        actor=world.alice,
        title="Solar panels for Tuul Hotels",
        owner=world.alice,
        amount=12_000_000,
    )
    login(page, live_server.url, "head", "pw-head")
    page.goto(f"{live_server.url}/crm/board/")
    card = page.locator(f"article[data-deal='{deal.pk}']")
    expect(card).to_contain_text("Solar panels for Tuul Hotels")
    expect(page.locator(f"section[data-stage='{world.stages['New lead'].pk}']")).to_contain_text(
        "Solar panels"
    )
    card.get_by_label("Move to stage").select_option(label="Proposal sent")
    target = page.locator(f"section[data-stage='{world.stages['Proposal sent'].pk}']")
    expect(target).to_contain_text("Solar panels for Tuul Hotels")
    deal.refresh_from_db()
    assert deal.stage == world.stages["Proposal sent"]
    change = StageChange.objects.filter(deal=deal).last()
    assert change.by == world.head


def test_manager_sees_only_own_cards(page: Page, live_server, world):
    services.create_lead(actor=world.alice, title="Alice lead", owner=world.alice)
    services.create_lead(actor=world.bob, title="Bob lead", owner=world.bob)
    login(page, live_server.url, "alice", "pw-alice")
    page.goto(f"{live_server.url}/crm/board/")
    expect(page.locator(".board")).to_contain_text("Alice lead")
    expect(page.locator(".board")).not_to_contain_text("Bob lead")
    assert Deal.objects.count() == 2
