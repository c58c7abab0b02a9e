"""The import page through the Django client: upload, detection, preview, mapping, dry
run, the run (tasks run at once in tests), the report with its rejected rows, undo."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import Deal
from funnelwatch.imports.models import ImportBatch, ImportPreset

pytestmark = pytest.mark.django_db

GENERIC = (
    "id;who;what;stage;opened;closed;value\n"
    "1;alice;Printers;Won;01.03.2024;05.03.2024;1 000\n"
    "2;alice;Paper;Talking;02.03.2024;;\n"
    "3;alice;Toner;Won;03.03.2024;09.03.2024;lots\n"
)


@pytest.fixture
def head(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client.force_login(world.head)
    return client


def _upload(client, data: bytes, name="deals.csv", fmt="auto"):
    response = client.post(
        reverse("imports:upload"),
        {"files": [SimpleUploadedFile(name, data)], "format": fmt},
    )
    assert response.status_code == 302, response.content
    return ImportBatch.objects.latest("pk")


def test_generic_upload_map_dry_run_run_and_undo(head, world, django_capture_on_commit_callbacks):
    batch = _upload(head, GENERIC.encode("cp1251"))
    assert batch.format == "generic" and batch.encoding == "utf-8"
    page = head.get(reverse("imports:batch", args=[batch.pk])).content.decode()
    assert "Printers" in page and "separator “;”" in page
    columns = {
        "col_external_id": "id",
        "col_owner": "who",
        "col_title": "what",
        "col_stage": "stage",
        "col_created_at": "opened",
        "col_closed_at": "closed",
        "col_amount": "value",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = head.post(
            reverse("imports:run", args=[batch.pk]),
            {**columns, "format": "generic", "owners": "match", "action": "dry_run",
             "preset_name": "Our sheet"},
        )  # fmt: skip
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.state == "draft"
    assert Deal.objects.count() == 0
    assert batch.dry_report["created"] == 2
    assert batch.dry_report["rejected"] == [{"line": 4, "error": "amount: 'lots' is not an amount"}]
    assert ImportPreset.objects.get(name="Our sheet").mapping["columns"]["title"] == "what"
    # The stages of the file are offered now that the stage column is known.
    page = head.get(reverse("imports:batch", args=[batch.pk])).content.decode()
    assert "Talking" in page and "would do" in page
    with django_capture_on_commit_callbacks(execute=True):
        head.post(
            reverse("imports:run", args=[batch.pk]),
            {**columns, "format": "generic", "owners": "match", "action": "run",
             "stage_0": "won", "stage_1": "Qualified"},
        )  # fmt: skip
    batch.refresh_from_db()
    assert batch.state == "done" and batch.created == 2 and batch.rejected == 1
    assert Deal.objects.get(title="Paper").stage == world.stages["Qualified"]
    assert Deal.objects.get(title="Printers").status == "won"
    progress = head.get(reverse("imports:progress", args=[batch.pk])).json()
    assert progress == {"state": "done", "done": 3, "total": 3, "percent": 100}
    rows = list(
        csv.reader(
            io.StringIO(head.get(reverse("imports:rejected", args=[batch.pk])).content.decode())
        )
    )
    assert rows[0][:3] == ["file", "line", "error"] and rows[1][1:3] == [
        "4",
        "amount: 'lots' is not an amount",
    ]
    assert "lots" in rows[1]
    # Running the same batch twice does nothing.
    again = head.post(reverse("imports:run", args=[batch.pk]), {**columns, "action": "run"})
    assert again.status_code == 302 and Deal.objects.count() == 2
    head.post(reverse("imports:undo", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.state == "undone" and batch.undone_by == world.head and Deal.objects.count() == 0
    assert AuditEvent.objects.filter(
        object_type="imports.importbatch", object_id=str(batch.pk), actor=world.head
    ).exists()


def test_bad_uploads_and_mappings_are_named(head):
    response = head.post(reverse("imports:upload"), {"format": "auto"}, follow=True)
    assert "choose at least one file" in response.content.decode()
    response = head.post(
        reverse("imports:upload"), {"files": [SimpleUploadedFile("x.csv", b"")]}, follow=True
    )
    assert "the file is empty" in response.content.decode()
    assert not ImportBatch.objects.exists()
    batch = _upload(head, GENERIC.encode())
    response = head.post(
        reverse("imports:run", args=[batch.pk]),
        {"col_title": "nope", "format": "generic", "action": "run"},
        follow=True,
    )
    assert "the files have no column nope" in response.content.decode()
    response = head.post(
        reverse("imports:run", args=[batch.pk]),
        {"col_title": "what", "col_owner": "who", "date_format": "dd.mm", "action": "run"},
        follow=True,
    )
    assert "date_format" in response.content.decode()
    batch.refresh_from_db()
    assert batch.state == "draft" and Deal.objects.count() == 0
    assert head.get(reverse("imports:batch", args=[batch.pk]) + "?preset=x").status_code == 400


def test_vendor_detected_on_upload(head):
    data = (
        b"Deal - ID,Deal - Title,Deal - Value,Deal - Owner,Deal - Stage,Deal - Status,"
        b"Deal - Deal created\n1,Fleet,100,Sara Lee,Qualified,Open,2022-02-01\n"
    )
    batch = _upload(head, data)
    assert batch.format == "pipedrive"
    assert batch.preview["stages"] == ["Qualified"] and batch.preview["owners"] == ["Sara Lee"]


def test_others_are_refused(client, world):
    for user in (world.alice, world.lead, world.reviewer):
        client.force_login(user)
        assert client.get(reverse("imports:index")).status_code == 403
        assert client.post(reverse("imports:upload")).status_code == 403
