"""The payout, board, scheme, skills and plan-step pages in a real browser, on a desk and
on a phone: the head approves a statement, a manager takes a test, a reviewer grades it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from funnelwatch.motivation.models import Statement
from funnelwatch.skills import services
from funnelwatch.skills.models import Attempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = """() => document.documentElement.scrollWidth <= window.innerWidth"""


def login(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _fits(page: Page, base: str, paths: list[str]) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            page.goto(f"{base}{path}")
            expect(page.locator("main h1")).to_be_visible()
            assert page.evaluate(WIDE), f"{path} scrolls sideways at {width}px"


def test_head_approves_and_manager_sees_it(page: Page, live_server, world, march):
    base = live_server.url
    login(page, base, "head")
    page.goto(f"{base}/motivation/?month=2026-03")
    page.get_by_role("link", name="Alice").click()
    expect(page.locator("tfoot")).to_contain_text("712\u202f000.00")
    page.get_by_role("button", name="Approve and freeze").click()
    expect(page.locator(".messages")).to_contain_text("Statement approved")
    assert Statement.objects.get().total == 712000
    _fits(
        page,
        base,
        [
            "/motivation/?month=2026-03",
            f"/motivation/{world.alice.pk}/2026-03/",
            "/motivation/schemes/",
            "/motivation/board/?month=2026-03",
            "/plans/",
        ],
    )
    login(page, base, "alice")
    page.goto(f"{base}/motivation/?month=2026-03")
    page.get_by_role("link", name="Alice").click()
    expect(page.locator("main")).to_contain_text("approved")
    expect(page.locator("tfoot")).to_contain_text("712\u202f000.00")
    expect(page.get_by_role("button", name="Approve and freeze")).to_have_count(0)


def test_manager_takes_a_test_and_reviewer_grades_it(page: Page, live_server, world):
    q1 = services.create_question(
        topic="product",
        kind="single",
        text="Warranty?",
        options="1 year\n*2 years",
        points=1,
        by=world.reviewer,
    )
    q2 = services.create_question(
        topic="objections",
        kind="open",
        text="Too expensive?",
        options="",
        points=2,
        by=world.reviewer,
    )
    test = services.create_test(
        title="Basics", pass_pct=70, question_ids=[str(q1.pk), str(q2.pk)], by=world.head
    )
    (item,) = services.assign(
        test=test, managers=[world.alice], due_date=dt.date.today(), by=world.head
    )
    base = live_server.url
    login(page, base, "alice")
    page.goto(f"{base}/skills/")
    page.get_by_role("link", name="Basics").click()
    page.get_by_label("2 years").check()
    page.locator(f"textarea[name=q_{q2.pk}]").fill("Compare the cost of a year.")
    page.get_by_role("button", name="Submit the test").click()
    expect(page.locator(".messages")).to_contain_text("Test submitted")
    login(page, base, "reviewer")
    page.goto(f"{base}/skills/assignments/{item.pk}/")
    page.get_by_label("Points").fill("1")
    page.get_by_role("button", name="Save grades").click()
    expect(page.locator(".messages")).to_contain_text("Grades saved")
    assert Attempt.objects.get().score_pct == Decimal("66.7")  # (1 + 1) / 3
    _fits(
        page,
        base,
        [
            "/skills/",
            f"/skills/assignments/{item.pk}/",
            "/skills/questions/",
            "/skills/tests/",
            "/skills/mystery/",
        ],
    )
