"""The leads pages in a real browser, over the demo department: every role opens them at
desktop and phone widths; the head adds a web form, a visitor's submission becomes a lead,
and the head names who passed a Telegram lead on."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from funnelwatch.accounts.models import User
from funnelwatch.leads.models import LeadOrigin, SourceKind, WebForm
from tests.browser.test_every_page import demo_department, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = "() => document.documentElement.scrollWidth > window.innerWidth"


def test_leads_pages_for_every_role_and_width(
    page: Page, live_server, settings, tmp_path, browser_problems
):
    logins = {login["role"]: login for login in demo_department(settings, tmp_path)["logins"]}
    base = live_server.url
    telegram = LeadOrigin.objects.filter(kind=SourceKind.TELEGRAM).order_by("deal_id").first()
    referrer = User.objects.get(username="bold")
    failures = []
    # Department staff (accounting, the warehouse) see only their requests: the permission
    # matrix checks that they are refused here.
    logins.pop("department", None)
    for role, login in logins.items():
        sign_in(page, base, login["username"], login["password"])
        urls = ["/leads/", "/leads/referrers/", f"/leads/referrers/{referrer.pk}/"]
        if role == "head":
            urls += ["/leads/channels/", f"/crm/deals/{telegram.deal_id}/"]
        for width, height in ((1440, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            for url in urls:
                response = page.goto(f"{base}{url}")
                page.wait_for_load_state("networkidle")
                problems = browser_problems.take()
                status = response.status if response else None
                if role in ("head", "manager") or url != f"/leads/referrers/{referrer.pk}/":
                    if status != 200:
                        problems.append(f"answered {status}")
                if status == 200 and page.evaluate(WIDE):
                    problems.append("wider than the screen")
                failures += [f"{role} {width} {url}: {p}" for p in problems]
    assert not failures, "\n".join(failures)


def test_head_adds_a_form_a_visitor_becomes_a_lead_and_a_referrer_is_named(
    page: Page, live_server, settings, tmp_path
):
    logins = {login["role"]: login for login in demo_department(settings, tmp_path)["logins"]}
    base = live_server.url
    head = logins["head"]
    sign_in(page, base, head["username"], head["password"])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/leads/channels/")
    page.locator("form.stack").first.get_by_label("name").fill("Spring landing")
    page.get_by_role("button", name="Add the form").click()
    form = WebForm.objects.get(name="Spring landing")
    assert f"/f/{form.key}/" in page.content()
    answer = page.request.post(
        f"{base}/f/{form.key}/",
        form={"name": "Dulmaa", "phone": "+97699007788", "utm_source": "newsletter"},
        max_redirects=0,
    )
    assert answer.status == 200 and "Thank you" in answer.text()
    origin = LeadOrigin.objects.get(deal__contact__phones__number="+97699007788")
    assert (origin.kind, origin.form, origin.utm_source) == ("web_form", form, "newsletter")
    page.goto(f"{base}/crm/deals/{origin.deal_id}/")
    referrer = User.objects.get(username="bold")
    page.get_by_label("Passed on by").select_option(str(referrer.pk))
    page.get_by_role("button", name="Save the referrer").click()
    page.wait_for_load_state("networkidle")
    origin.refresh_from_db()
    assert origin.referrer == referrer
    page.goto(f"{base}/leads/referrers/{referrer.pk}/")
    assert origin.deal.title in page.content()
