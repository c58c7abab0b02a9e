"""A real-shaped public data set (CRM sales opportunities) through the generic mapping:
per-owner won counts and amounts as the file says, a rerun that creates nothing, undo."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from funnelwatch.accounts.models import User
from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import Company, Deal, StageChange
from funnelwatch.imports import samples
from funnelwatch.imports.models import ImportBatch

pytestmark = pytest.mark.django_db


def _files(tmp_path, n=300):
    files = samples.opportunities(n)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "mapping.json").write_text(json.dumps(samples.MAPPING))
    return files


def _import(tmp_path, *extra):
    out = StringIO()
    call_command(
        "import-deals", str(tmp_path / "sales_pipeline.csv"), "--format", "generic",
        "--mapping", str(tmp_path / "mapping.json"), "--json", *extra, stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def _expected(data: bytes):
    won: dict[str, list[Decimal]] = defaultdict(list)
    stages = Counter()
    for row in csv.DictReader(io.StringIO(data.decode())):
        stages[row["deal_stage"]] += 1
        if row["deal_stage"] == "Won":
            won[row["sales_agent"]].append(Decimal(row["close_value"]))
    return won, stages


def test_opportunities_import_matches_an_independent_count(tmp_path):
    files = _files(tmp_path)
    won, stages = _expected(files["sales_pipeline.csv"])

    dry = _import(tmp_path, "--dry-run")
    assert Deal.objects.count() == 0 and User.objects.count() == 0
    report = _import(tmp_path)
    assert {k: report[k] for k in ("rows", "created", "updated", "unchanged")} == {
        k: dry[k] for k in ("rows", "created", "updated", "unchanged")
    }
    assert report["rows"] == 300 and report["created"] == 300 and not report["rejected"]
    # Prospects have no engage date: they fall back, with a warning, never a rejection.
    assert (
        sum("no creation date" in w["warning"] for w in report["warnings"]) == stages["Prospecting"]
    )
    assert set(report["owners"]) == {a for a, _m, _o in samples.AGENTS}

    got = {
        u.get_full_name(): (n, total)
        for u, n, total in (
            (User.objects.get(pk=row["owner"]), row["n"], row["total"])
            for row in Deal.objects.filter(status="won")
            .values("owner")
            .annotate(n=Count("id"), total=Sum("amount"))
        )
    }
    assert got == {agent: (len(vals), sum(vals)) for agent, vals in won.items()}
    assert Deal.objects.filter(status="lost").count() == stages["Lost"]
    assert Deal.objects.filter(status="open").count() == stages["Engaging"] + stages["Prospecting"]
    # "Acme Corporation" and "ACME CORPORATION Inc." are one company.
    assert Company.objects.count() == len(samples.ACCOUNTS)
    # New owners wait for a password; history is created -> closed for closed deals.
    assert not User.objects.filter(is_active=True).exists()
    deal = Deal.objects.filter(status="won").first()
    changes = list(StageChange.objects.filter(deal=deal).order_by("at", "id"))
    assert changes[0].at == deal.created_at and changes[-1].at == deal.closed_at
    assert changes[-1].to_stage.outcome == "won" and changes[0].left_at == changes[1].at

    again = _import(tmp_path)
    assert again["created"] == 0 and again["updated"] == 0 and again["unchanged"] == 300
    assert Deal.objects.count() == 300 and Company.objects.count() == len(samples.ACCOUNTS)


def test_undo_removes_what_the_batch_created(tmp_path, world):
    _files(tmp_path, n=40)
    _import(tmp_path)
    batch = ImportBatch.objects.get()
    from funnelwatch.imports import engine

    removed = engine.undo(batch, world.head)
    assert removed["deals"] == 40 and Deal.objects.count() == 0
    batch.refresh_from_db()
    assert batch.state == "undone" and batch.undone_by == world.head
    assert AuditEvent.objects.filter(
        object_type="imports.importbatch", actor=world.head, changes__state=["done", "undone"]
    ).exists()
    assert AuditEvent.objects.filter(object_type="crm.deal", action="delete").count() == 40
    with pytest.raises(engine.UndoRefused):
        engine.undo(batch, world.head)
    # After an undo the same file imports anew.
    assert _import(tmp_path)["created"] == 40


def test_rollups_show_the_imported_past_and_forget_it_on_undo(
    tmp_path, world, django_capture_on_commit_callbacks
):
    from funnelwatch.imports import engine
    from funnelwatch.metrics.models import DailyValue

    files = _files(tmp_path, n=60)
    won, _stages = _expected(files["sales_pipeline.csv"])
    # The rollups are recomputed once the import has committed.
    with django_capture_on_commit_callbacks(execute=True):
        _import(tmp_path)
    counts = {
        User.objects.get(pk=row["manager"]).get_full_name(): int(row["n"])
        for row in DailyValue.objects.filter(metric="won_count")
        .values("manager")
        .annotate(n=Sum("value"))
    }
    amounts = {
        User.objects.get(pk=row["manager"]).get_full_name(): row["total"]
        for row in DailyValue.objects.filter(metric="won_amount")
        .values("manager")
        .annotate(total=Sum("value"))
    }
    assert counts == {a: len(v) for a, v in won.items()}
    assert amounts == {a: sum(v) for a, v in won.items()}
    with django_capture_on_commit_callbacks(execute=True):
        engine.undo(ImportBatch.objects.get(), world.head)
    assert not DailyValue.objects.filter(metric__in=["won_count", "won_amount"]).exists()


def test_undo_refused_while_records_hang_on_the_deals(tmp_path, world):
    from funnelwatch.crm import services
    from funnelwatch.imports import engine

    _files(tmp_path, n=10)
    _import(tmp_path)
    batch = ImportBatch.objects.get()
    deal = Deal.objects.first()
    note = services.add_note(actor=world.head, deal=deal, text="Called them")
    with pytest.raises(engine.UndoRefused, match="hang on its deals"):
        engine.undo(batch, world.head)
    batch.refresh_from_db()
    assert batch.state == "done" and Deal.objects.count() == 10
    services.archive(note, actor=world.head)
    with pytest.raises(engine.UndoRefused):  # archived, the note still belongs to the deal
        engine.undo(batch, world.head)
    assert Deal.objects.count() == 10
