from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from funnelwatch.quality.models import Review
from funnelwatch.quality.tests.conftest import make_call, wav_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()


def test_reviewer_scores_a_call_from_the_timeline(
    page: Page, live_server, world, at, tmp_path, checklist
):
    call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    login(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/quality/calls/{call.pk}/")
    expect(page.locator(".speech-timeline .manager .bar")).to_have_count(2)
    expect(page.locator(".speech-timeline .client .bar")).to_have_count(2)
    page.locator(".speech-timeline .client .bar").first.click()
    page.wait_for_function("document.getElementById('player').currentTime >= 10")
    page.get_by_label("Introduced themselves").select_option("yes")
    page.get_by_label("Asked about the client's situation").select_option("2")
    page.locator("input[name=comment_at]").first.fill("0:12")
    page.locator("input[name=comment_text]").first.fill("Opening could be warmer")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    page.get_by_role("button", name="Save review").click()
    expect(page.locator(".messages")).to_contain_text("Review saved")
    expect(page.locator(".speech-timeline .mark")).to_have_count(1)
    review = Review.objects.get(call=call)
    assert review.score == pytest.approx(100 * (1 + 3 * 0.5) / 4, abs=0.1)
