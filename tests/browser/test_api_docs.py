"""/api/docs in a real browser: Swagger UI renders the API's operations from the
product's own files, with no failed request and nothing fetched from outside (the
``browser_problems`` fixture fails the test on either)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_the_operations(page: Page, live_server, world, browser_problems):
    page.goto(f"{live_server.url}/api/docs")  # signed-in users only: to the login page
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/api/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 10
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Funnelwatch API")
    expect(page.locator("#operations-metrics-funnelwatch_reports_api_key_numbers")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert f"{live_server.url}/static/vendor/swagger-ui-bundle-5.36.0.js" in requested
    assert f"{live_server.url}/api/openapi.json" in requested
    assert browser_problems.take() == []
