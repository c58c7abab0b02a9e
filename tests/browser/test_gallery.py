"""The README's screenshot gallery, made from a small demo department in a real browser.

As the head: the home page, the key numbers and a deal page at 1440×900, and the home
page on a 390×844 phone. Every run checks that these pages render with no failed request
or console error; with ``FUNNELWATCH_GALLERY=1`` it also writes the pictures to
``docs/screenshots/`` (commit them when the pages change):

    FUNNELWATCH_GALLERY=1 pytest tests/browser/test_gallery.py
"""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page

from funnelwatch.crm.models import Deal
from funnelwatch.telephony.models import Call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _showcase_deal() -> Deal:
    """An open deal with a recorded call and the longest story: the deal page to show."""
    with_recording = Call.objects.filter(
        deal__status="open", recording__status="stored"
    ).values_list("deal_id", flat=True)
    candidates = Deal.objects.filter(pk__in=with_recording) or Deal.objects.filter(status="open")
    return max(candidates, key=lambda d: (d.stage_changes.count(), d.calls.count(), -d.pk))


def test_gallery_pages_render_and_are_saved_on_request(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    out = StringIO()
    call_command("demo", "--months", "1", "--managers", "6", "--json", stdout=out)
    json.loads(out.getvalue())
    save = os.environ.get("FUNNELWATCH_GALLERY") == "1"
    if save:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    deal = _showcase_deal()
    shots = [
        ("home", reverse("home"), DESKTOP),
        ("key-numbers", reverse("metrics:key_numbers"), DESKTOP),
        ("deal", reverse("crm:deal", args=[deal.pk]), DESKTOP),
        ("phone", reverse("home"), PHONE),
    ]
    page.set_viewport_size(DESKTOP)
    _sign_in(page, base, "head")
    for name, url, size in shots:
        page.set_viewport_size(size)
        response = page.goto(f"{base}{url}")
        page.wait_for_load_state("networkidle")
        assert response is not None and response.ok, (name, response and response.status)
        assert page.locator("main h1").first.is_visible(), name
        if name == "deal":
            entries = page.locator("ul.deal-timeline > li")
            assert entries.count() >= 5
            assert page.locator("ul.deal-timeline audio").count() >= 1
        problems = browser_problems.take()
        assert not problems, (name, problems)
        if save:
            target = SCREENSHOTS / f"{name}.png"
            if name == "deal":  # down to the first entries of the timeline
                page.screenshot(
                    path=str(target),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": DESKTOP["width"], "height": 1500},
                )
            else:
                page.screenshot(path=str(target))
            assert target.stat().st_size < 300_000, (name, target.stat().st_size)
