"""The client-base pages in a real browser, for every role, on the demo department: the
segment matrix opens its companies, a company shows its segment history, retention and
lost reasons render, the CRM lists filter by segment, nothing scrolls sideways on a
phone, and the head wakes a sleeping client up."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from funnelwatch.accounts.models import Role, User
from funnelwatch.clients import queries
from tests.browser.test_every_page import STYLED, demo_department, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = (Role.HEAD, Role.TEAM_LEAD, Role.MANAGER, Role.REVIEWER)
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def pages_for(user: User) -> list[str]:
    urls = [
        reverse("clients:base"),
        reverse("clients:companies"),
        f"{reverse('clients:companies')}?lifecycle=sleeping",
        reverse("clients:retention"),
        reverse("clients:reasons"),
        f"{reverse('clients:reasons')}?kind=junk&group=stage",
        f"{reverse('crm:deals')}?status=all&abc=A",
        f"{reverse('crm:contacts')}?lifecycle=active",
    ]
    snap = queries.snapshots_for(user, queries.latest_month()).order_by("company_id").first()
    if snap is not None:
        urls.append(reverse("clients:company", args=[snap.company_id]))
    return urls


def test_client_base_pages_for_every_role(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    logins = {login["role"]: login for login in demo_department(settings, tmp_path)["logins"]}
    base = live_server.url
    failures: list[str] = []
    for role in ROLES:
        login = logins[role]
        user = User.objects.get(username=login["username"])
        sign_in(page, base, login["username"], login["password"])
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for url in pages_for(user):
                response = page.goto(f"{base}{url}")
                page.wait_for_load_state("networkidle")
                problems = browser_problems.take()
                if response is None or not response.ok:
                    problems.append(f"answered {response and response.status}")
                elif not page.evaluate(STYLED):
                    problems.append("the product's stylesheet did not apply")
                elif not page.locator("main h1").first.is_visible():
                    problems.append("no heading: the page did not render")
                elif not page.evaluate(FITS):
                    problems.append("the page scrolls sideways")
                failures += [f"{role} {width}px {url}: {p}" for p in problems]
    assert not failures, "\n".join(failures)

    # The matrix opens its companies; the head wakes a sleeping client up.
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, base, logins[Role.HEAD]["username"], logins[Role.HEAD]["password"])
    page.goto(f"{base}{reverse('clients:base')}")
    cell = page.locator("table.compact tbody a").first
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_url("**/clients/companies/**")
    assert page.locator("main table tbody tr").count() == min(count, 50)

    page.goto(f"{base}{reverse('clients:retention')}")
    sleeping = page.locator("form[action*='/wake/'] button")
    assert sleeping.count() >= 1, "the demo has sleeping clients"
    sleeping.first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("ul.messages li").first.inner_text().startswith("Task created for")
