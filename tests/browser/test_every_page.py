"""Every page of the menu, for every role, in a real browser, over a department with
data (the demo generator's: deals and their histories, calls with recordings, letters,
rolled-up metrics, alerts, plans, reviews), and a page of each kind of record.

The menu is read from the rendered page (and checked against the navigation registry),
not from a list kept here: a new menu item is opened by this test the day it appears.
A page fails on anything ``BrowserProblems`` finds (a response of 400 or more, a failed
or outside request, a console error, an uncaught exception), and when the product's
stylesheet did not apply.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page

from funnelwatch.accounts.models import Role, User
from funnelwatch.core import navigation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = (Role.HEAD, Role.TEAM_LEAD, Role.MANAGER, Role.REVIEWER, Role.DEPARTMENT)

# Drill-downs of numbers whose records are of different kinds (deals, stays, calls,
# letters, audit events, call analyses).
DRILL_DOWNS = (
    "won_count",
    "stage_velocity",
    "calls_out",
    "emails_received",
    "crm_actions",
    "quality_talk_ratio",
)

STYLED = """() => [...document.styleSheets].some(
    (sheet) => (sheet.href || "").includes("/funnelwatch/app.css") && sheet.cssRules.length > 0
)"""

# A list shown as cards on a phone (table.stack): every cell named by its column, nothing
# wider than the screen.
STACKED = """() => [...document.querySelectorAll("table.stack")].flatMap((t) => {
    const out = [];
    if (t.scrollWidth > t.clientWidth + 1 || t.getBoundingClientRect().right > innerWidth + 1)
        out.push(`a list table is ${t.scrollWidth}px wide on a ${innerWidth}px screen`);
    const bare = [...t.querySelectorAll("tbody td")].filter(
        (c) => c.colSpan === 1 && !(c.dataset.label || "").trim());
    if (bare.length) out.push(`${bare.length} cells of a list table without their column's name`);
    return out;
})"""


def demo_department(settings, tmp_path) -> dict:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    out = StringIO()
    call_command("demo", "--months", "1", "--managers", "4", "--json", stdout=out)
    return json.loads(out.getvalue())


def record_pages(user: User) -> list[str]:
    """A page of each kind of record the user may see (the first of each)."""
    from funnelwatch.alerts.models import DigestCopy
    from funnelwatch.crm import queries as crm
    from funnelwatch.handoffs.queries import requests_for
    from funnelwatch.mail import queries as mail
    from funnelwatch.quality import queries as quality
    from funnelwatch.reports.queries import sellers
    from funnelwatch.telephony import queries as telephony

    found = [
        ("crm:deal", crm.deals_for(user).order_by("pk").first()),
        ("crm:contact", crm.contacts_for(user).order_by("pk").first()),
        ("telephony:call", telephony.calls_for(user).order_by("pk").first()),
        ("mail:mailbox", mail.mailboxes_for(user).order_by("pk").first()),
        ("mail:message", mail.messages_for(user).order_by("pk").first()),
        ("metrics:manager", sellers(user).order_by("pk").first()),
        ("alerts:digest", DigestCopy.objects.filter(recipient=user).order_by("pk").first()),
    ]
    urls = [reverse(name, args=[obj.pk]) for name, obj in found if obj is not None]
    reviewed = quality.calls_for(user).filter(recording__analysis__status="ok").first()
    if reviewed is not None:
        urls.append(reverse("quality:call", args=[reviewed.pk]))
    request = requests_for(user).order_by("pk").first()
    if request is not None:
        urls.append(reverse("handoffs:detail", args=[request.pk]))
    if user.role != Role.DEPARTMENT:  # department staff see no numbers of the sales team
        urls += [f"{reverse('metrics:records', args=[k])}?period=month" for k in DRILL_DOWNS]
    return urls


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def test_every_page_of_the_menu_for_every_role(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    page.set_viewport_size({"width": 1440, "height": 900})
    logins = {login["role"]: login for login in demo_department(settings, tmp_path)["logins"]}
    assert set(ROLES) <= set(logins)
    base = live_server.url
    failures: list[str] = []
    opened = stacked = 0
    for role in ROLES:
        login = logins[role]
        user = User.objects.get(username=login["username"])
        sign_in(page, base, login["username"], login["password"])
        menu = page.locator("nav.main a").evaluate_all("links => links.map(a => a.pathname)")
        assert menu == [item["url"] for item in navigation.items_for(user, "/")], role
        assert menu, f"{role}: an empty menu"
        for url in menu + record_pages(user):
            response = page.goto(f"{base}{url}")
            page.wait_for_load_state("networkidle")
            problems = browser_problems.take()
            if response is None or not response.ok:
                problems.append(f"answered {response and response.status}")
            elif not page.evaluate(STYLED):
                problems.append("the product's stylesheet did not apply")
            elif not page.locator("main :is(h1, h2)").first.is_visible():
                problems.append("no heading: the page did not render")
            elif url in menu:
                lit = page.locator("nav.main a.active").evaluate_all(
                    "links => links.map(a => a.pathname)"
                )
                if lit != [url]:
                    problems.append(f"the menu lights {lit}, not the page's own item")
            if not problems and page.locator("table.stack").count():
                page.set_viewport_size({"width": 390, "height": 844})
                problems += [f"on a phone: {p}" for p in page.evaluate(STACKED)]
                page.set_viewport_size({"width": 1440, "height": 900})
                stacked += 1
            failures += [f"{role} {url}: {problem}" for problem in problems]
            opened += 1
    assert not failures, "\n".join(failures)
    assert opened >= 4 * 10 + 3
    assert stacked >= len(ROLES), "the lists shown as cards on a phone were not looked at"
