"""The fixture every browser test runs under sees what a page can hide from a test: a
404 stylesheet, a failed or outside request, a console error, an uncaught exception."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_browser_problems_are_found(page: Page, live_server, browser_problems):
    page.route("https://cdn.example.invalid/**", lambda route: route.abort())
    page.goto(f"{live_server.url}/login/")
    page.wait_for_load_state("networkidle")
    assert browser_problems.take() == []
    # A page of the server's own address without its Content-Security-Policy, which would
    # stop the scripts below before they ran.
    page.route(
        f"{live_server.url}/broken/",
        lambda route: route.fulfill(
            content_type="text/html",
            body="""<link rel="stylesheet" href="/static/missing.css">
            <script src="https://cdn.example.invalid/lib.js"></script>
            <script>console.error("broken"); throw new Error("boom");</script>""",
        ),
    )
    page.goto(f"{live_server.url}/broken/")
    page.wait_for_load_state("networkidle")
    found = "\n".join(browser_problems.take())
    assert f"404 GET {live_server.url}/static/missing.css" in found
    assert "request left the server: GET https://cdn.example.invalid/lib.js" in found
    assert "failed: GET https://cdn.example.invalid/lib.js" in found
    assert "console error: broken" in found
    assert "page error: boom" in found
    assert browser_problems.take() == []  # taken: the test ends clean


def test_what_the_content_security_policy_blocks_is_found(
    page: Page, live_server, browser_problems
):
    """A script the policy refuses never runs and never shows in the network: the
    browser says so on the console, and that fails a test."""
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """() => { const s = document.createElement("script");
        s.src = "https://cdn.example.invalid/lib.js"; document.head.append(s); }"""
    )
    found = "\n".join(browser_problems.take())
    assert "console error:" in found and "Content Security Policy" in found


def test_the_product_names_its_icon(page: Page, live_server, client, db):
    """Browsers asked every page for /favicon.ico, a 404 on the console of each."""
    page.goto(f"{live_server.url}/login/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").ok
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == icon
