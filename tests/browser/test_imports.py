"""The import page in a browser: the head uploads a Kommo export (cp1251, ``;``), sees the
detected format, encoding and first rows, maps a stage, runs a dry run, imports with the
progress bar polling until the background run ends, downloads the rejected rows and undoes
the import."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from funnelwatch.crm.models import Deal
from funnelwatch.imports import services
from funnelwatch.imports.models import ImportBatch
from funnelwatch.imports.tests.test_vendors import KOMMO_RU

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_head_imports_a_kommo_export_and_undoes_it(
    page: Page, live_server, world, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FUNNELWATCH_PHONE_REGION = "RU"
    # The run stays queued until the test runs it, as a worker would.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    export = tmp_path / "leads.csv"
    export.write_bytes(KOMMO_RU.encode("cp1251"))
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("head")
    page.get_by_label("Password").fill("pw-head")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    page.locator("nav.main").get_by_role("link", name="Import").click()
    page.locator("input[type=file]").set_input_files(str(export))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("main")).to_contain_text("encoding cp1251, separator “;”, 4 rows")
    expect(page.locator("table.preview")).to_contain_text("Поставка принтеров")
    expect(page.locator("select[name=format]")).to_have_value("kommo")
    page.get_by_label("Переговоры").select_option("Proposal sent")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#import-progress")).to_be_visible()
    batch = ImportBatch.objects.get()
    assert batch.state == "checking"
    assert services.run_queued(batch.pk) == "checked"
    dry = page.locator("section.dry-run")
    expect(dry).to_contain_text("Nothing was written.")
    expect(dry.locator("table.rejected")).to_contain_text("'abc' is not an amount")
    assert Deal.objects.count() == 0
    page.get_by_role("button", name="Import", exact=True).click()
    bar = page.locator("#import-progress")
    expect(bar).to_be_visible()
    batch = ImportBatch.objects.get()
    assert batch.state == "queued"
    assert services.run_queued(batch.pk) == "done"
    # The page polls the progress and shows the report once the run has ended.
    report = page.locator("section.report")
    expect(report).to_contain_text("Анна Петрова → anna.petrova")
    expect(report.locator("table.rejected")).to_contain_text("4")
    assert Deal.objects.get(title="Картриджи").stage.name == "Proposal sent"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    text = download.value.path().read_text()
    assert "amount: 'abc' is not an amount" in text and "Сервер" in text
    page.get_by_role("button", name="Undo this import").click()
    expect(page.locator(".messages")).to_contain_text("Import undone: 3 deals")
    expect(report).to_contain_text("Undone by")
    assert Deal.objects.count() == 0
