"""What a head of sales sees first, in a real browser, over the demo department.

- At 1440×900 the planted manager's activity drop is on the first screen (inside the
  viewport without scrolling) of the home page and of the alerts page: it ranks first.
- At 390×844 (a phone) every page of every role is no wider than the screen, its heading
  is on the first screen, and it loads with no failed request and no console error.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page

from funnelwatch.accounts.models import User

from .test_every_page import ROLES, demo_department, record_pages, sign_in

# Two months: the activity rule compares the last working days with the four weeks
# before them, which a one-month demo does not have in full.
DEMO_MONTHS = "2"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH_AND_SCROLL = "() => [document.documentElement.scrollWidth, window.scrollY]"


def demo_with_history(settings, tmp_path) -> dict:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    out = StringIO()
    call_command("demo", "--months", DEMO_MONTHS, "--managers", "4", "--json", stdout=out)
    return json.loads(out.getvalue())


def on_first_screen(page: Page, selector: str) -> tuple[bool, str]:
    """Whether the first element matching ``selector`` lies inside the viewport."""
    target = page.locator(selector).first
    if target.count() == 0:
        return False, f"{selector}: not on the page"
    box = target.bounding_box()
    size = page.viewport_size
    if box is None:
        return False, f"{selector}: not rendered"
    inside = (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )
    return inside, f"{selector}: at {box} in a {size['width']}×{size['height']} screen"


def test_the_planted_activity_drop_is_on_the_heads_first_screen(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    demo = demo_with_history(settings, tmp_path)
    planted = demo["planted"]["activity_drop_manager"]
    head = next(login for login in demo["logins"] if login["role"] == "head")
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server.url, head["username"], head["password"])
    drop = f'.attention-group[data-manager="{planted}"] [data-alert-kind="activity_drop"]'
    for url in ("/", "/alerts/"):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        inside, where = on_first_screen(page, drop)
        assert inside, f"{url}: {where}"
        # And it is the first group: nobody else's warnings come before it.
        first = page.locator(".attention-group").first.get_attribute("data-manager")
        assert first == planted, f"{url}: {first} ranks before {planted}"
    assert not browser_problems.take()


def phone_menu_problems(page: Page) -> list[str]:
    """The menu is folded behind a button on a phone (the header takes less than a sixth
    of the screen) and opens and closes with it."""
    problems = []
    header = page.locator("header.top").bounding_box()
    if header["height"] > 844 / 6:
        problems.append(f"the folded header is {header['height']} px tall")
    toggle, menu = page.locator("[data-menu-toggle]"), page.locator("nav.main")
    if not toggle.is_visible() or menu.is_visible():
        return [*problems, "the menu is not folded behind its button"]
    toggle.click()
    if not menu.is_visible() or toggle.get_attribute("aria-expanded") != "true":
        problems.append("the menu button does not open the menu")
    toggle.click()
    if menu.is_visible():
        problems.append("the menu button does not close the menu")
    return problems


def test_every_page_fits_a_phone_with_its_heading_on_the_first_screen(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    logins = {login["role"]: login for login in demo_department(settings, tmp_path)["logins"]}
    page.set_viewport_size({"width": 390, "height": 844})
    base = live_server.url
    failures: list[str] = []
    opened = 0
    for role in ROLES:
        login = logins[role]
        user = User.objects.get(username=login["username"])
        sign_in(page, base, login["username"], login["password"])
        menu = page.locator("nav.main a").evaluate_all("links => links.map(a => a.pathname)")
        failures += [f"{role}: {problem}" for problem in phone_menu_problems(page)]
        for url in ["/", *menu, *record_pages(user)]:
            response = page.goto(f"{base}{url}")
            page.wait_for_load_state("networkidle")
            problems = browser_problems.take()
            if response is None or not response.ok:
                problems.append(f"answered {response and response.status}")
            else:
                width, scrolled = page.evaluate(WIDTH_AND_SCROLL)
                if width > 390:
                    problems.append(f"the page is {width} px wide")
                inside, where = on_first_screen(page, "main h1")
                if not inside or scrolled:
                    problems.append(f"the heading is not on the first screen ({where})")
            failures += [f"{role} {url}: {problem}" for problem in problems]
            opened += 1
    assert not failures, "\n".join(failures)
    assert opened >= 4 * 10
