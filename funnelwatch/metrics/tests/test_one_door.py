"""Every writer goes through ``funnelwatch.metrics.changed``, its change reaches the
rollups, and ``rollups verify`` stays clean after it; the kernel imports no domain app."""

from __future__ import annotations

import ast
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, refresh
from funnelwatch.metrics.models import DirtyDay, RollupStamp

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
KERNEL = Path(__file__).resolve().parents[1]
# The shared base every app may use; everything else under funnelwatch/ is a domain
# (crm, telephony, mail, quality, plans, alerts, reports and the apps to come).
SHARED_BASE = {"funnelwatch.lib", "funnelwatch.metrics", "funnelwatch.core", "funnelwatch.ops"}


@pytest.fixture
def doors(monkeypatch):
    """The sources every call of the one door named."""
    seen: list[str] = []
    real = refresh.changed

    def spy(source, managers, days, **kwargs):
        seen.append(source)
        return real(source, managers, days, **kwargs)

    monkeypatch.setattr(refresh, "changed", spy)
    return seen


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def value(key: str, manager) -> object:
    return engine.group_values([key], MARCH, {0: {manager.pk}})[0][key]


def clean() -> None:
    """``funnelwatch rollups verify`` for March finds nothing to report."""
    call_command("rollups", "verify", "--from", "2026-03-01", "--to", "2026-04-01")
    assert engine.verify(MARCH) == []


def test_the_kernel_imports_no_domain_app():
    found = []
    for path in KERNEL.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names[:1] if isinstance(node, ast.ImportFrom) else names:
                if name.startswith("funnelwatch.") and not any(
                    name == base or name.startswith(base + ".") for base in SHARED_BASE
                ):
                    found.append(f"{path.relative_to(KERNEL)}: {name}")
    assert found == []


def test_crm_services(world, at, commit, doors):
    commit(services.create_lead, actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2))
    assert "lead_created" in doors
    assert value("leads_received", world.alice) == 1
    clean()


def test_audit_rows_written_outside_the_services(world, at, commit, doors):
    commit(services.create_contact, actor=world.alice, name="Ann", at=at(2026, 3, 5, 10))
    assert "audit" in doors
    assert value("crm_actions", world.alice) == 1
    clean()


def test_call_import(world, at, commit, doors, tmp_path):
    from funnelwatch.telephony.importer import import_file

    row = (
        '"","101","99112233","ctx","""x"" <101>","PJSIP/101-1","PJSIP/trunk-2","Dial","",'
        '"2026-03-02 10:00:00","2026-03-02 10:00:05","2026-03-02 10:01:15",70,60,"ANSWERED",'
        '"DOCUMENTATION","u1","","","u1",0\n'
    )
    path = tmp_path / "Master.csv"
    path.write_text(row)
    commit(import_file, path, "asterisk-csv")
    assert "call" in doors
    assert value("calls_out", world.alice) == 1
    clean()


def _generic_event(client, n: int, start: str):
    from funnelwatch.telephony.providers import generic

    raw = json.dumps(
        {
            "event_id": f"ev{n}",
            "call_id": f"g{n}",
            "direction": "out",
            "from": "101",
            "to": "+97699112233",
            "started_at": start,
            "ended_at": start.replace(":00:00", ":02:00"),
            "talk_seconds": 100,
            "outcome": "answered",
        }
    ).encode()
    ts = str(int(time.time()))
    return client.post(
        "/api/telephony/webhooks/calls",
        raw,
        content_type="application/json",
        HTTP_X_FUNNELWATCH_TIMESTAMP=ts,
        HTTP_X_FUNNELWATCH_SIGNATURE=generic.signature("our-secret", ts, raw),
    )


def test_webhooks_mark_days_for_the_worker_each_once(
    world, client, settings, doors, django_capture_on_commit_callbacks, monkeypatch
):
    from funnelwatch.core import periodic

    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            r = _generic_event(client, n, f"2026-03-02T1{n}:00:00+08:00")
            assert r.status_code == 200, r.content
    assert doors.count("call") == 3
    # Stored, not yet recomputed; the worker recomputes the manager's day once.
    assert DirtyDay.objects.filter(manager=world.alice).count() == 3
    assert value("calls_out", world.alice) == 0
    rebuilds = []
    real = engine.rebuild
    monkeypatch.setattr(engine, "rebuild", lambda *a, **kw: rebuilds.append(a) or real(*a, **kw))
    assert "1 manager-days" in periodic.JOBS["metrics-dirty"].func(dt.datetime.now(dt.UTC))
    assert len(rebuilds) == 1
    assert not DirtyDay.objects.exists()
    assert value("calls_out", world.alice) == 3
    clean()


def test_queued_webhook_events_reach_the_rollups_through_the_batch(
    world, client, settings, doors, django_capture_on_commit_callbacks
):
    """The default mode: the request stores the event; the worker's batch makes the calls
    and marks their manager-days for the ``metrics-dirty`` job, which counts them."""
    from funnelwatch.core import periodic
    from funnelwatch.telephony import webhooks

    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    settings.FUNNELWATCH_WEBHOOK_MODE = "queue"
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            r = _generic_event(client, n, f"2026-03-02T1{n}:00:00+08:00")
            assert r.json()["status"] == "queued", r.content
    assert doors.count("call") == 0 and value("calls_out", world.alice) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.process_pending()["calls_created"] == 3
    assert doors.count("call") == 1  # one batch, one change
    assert DirtyDay.objects.filter(manager=world.alice).exists()
    assert value("calls_out", world.alice) == 0
    periodic.JOBS["metrics-dirty"].func(dt.datetime.now(dt.UTC))
    assert value("calls_out", world.alice) == 3
    clean()


def test_rollups_verify_applies_waiting_changes_first(world, client, settings):
    settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET = "our-secret"
    assert _generic_event(client, 9, "2026-03-03T10:00:00+08:00").status_code == 200
    assert DirtyDay.objects.exists()
    clean()
    assert not DirtyDay.objects.exists()


def test_mail_store_and_the_shared_bcc_mailbox(world, at, commit, doors):
    from funnelwatch.mail.ingest import Incoming, store
    from funnelwatch.mail.models import Mailbox
    from funnelwatch.mail.parsing import parse
    from funnelwatch.mail.tests.letters import letter

    commit(
        services.create_contact,
        actor=world.alice,
        name="Acme",
        owner=world.alice,
        emails=["client@acme.test"],
    )

    def put(frm, to, when, msgid, box):
        raw = letter(frm, to, "Price", msgid=msgid, date=when)
        return store([Incoming(parse(raw))], box)

    own = Mailbox.objects.create(user=world.alice, host="mail.firm.test", login="alice")
    bcc = Mailbox(user=world.head, host="mail.firm.test", login="crm-bcc", is_shared_bcc=True)
    bcc.set_password("x")
    bcc.save()
    doors.clear()
    commit(put, "alice@firm.test", "client@acme.test", at(2026, 3, 2, 11), "<a@firm.test>", own)
    assert doors == ["letter"]
    commit(put, "alice@firm.test", "client@acme.test", at(2026, 3, 3, 11), "<b@firm.test>", bcc)
    assert doors == ["letter", "letter"]
    assert value("emails_sent", world.alice) == 2
    clean()


def test_quality_analysis_review_and_queue(
    world, at, commit, doors, tmp_path, settings, monkeypatch
):
    from funnelwatch.quality import services as quality
    from funnelwatch.quality.tests.conftest import make_call, wav_bytes

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FUNNELWATCH_QUALITY_VAD = "energy"
    call = commit(make_call, world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    assert "quality" in doors
    # The factory stores the call itself, not through call ingest: tell the door.
    commit(refresh.changed, "call", [world.alice.pk], [call.started_at])
    assert value("quality_talk_ratio", world.alice) == pytest.approx(49.5, abs=0.3)
    doors.clear()
    checklist = quality.create_checklist("Script", "greeting | 1 | yes_no | Hello", world.head)
    criterion = checklist.criteria.get()
    commit(quality.save_review, call, checklist, world.reviewer, {criterion.pk: "yes"})
    assert doors == ["quality"]
    assert value("quality_review_score", world.alice) == 100
    doors.clear()
    assert commit(quality.sample_week, dt.date(2026, 3, 2), per_manager=1, min_duration_s=0) == 1
    assert doors == ["quality"]
    # The one sampled call is the one reviewed already.
    assert value("quality_reviewed_share", world.alice) == 100.0
    clean()


def test_plans(world, at, commit, doors):
    from funnelwatch.plans.models import Plan

    deal = commit(
        services.create_lead, actor=world.alice, title="Y", owner=world.alice, at=at(2026, 3, 2)
    )
    commit(services.win, deal, actor=world.alice, amount=500, at=at(2026, 3, 3, 10))
    before = dict(RollupStamp.objects.values_list("day", "token"))
    doors.clear()
    plan = commit(
        Plan.objects.create,
        title="March",
        metric="won_amount",
        target=1000,
        manager=world.alice,
        first_day=dt.date(2026, 3, 1),
        last_day=dt.date(2026, 3, 31),
        created_by=world.head,
    )
    assert doors == ["plan"]
    after = dict(RollupStamp.objects.values_list("day", "token"))
    # Answers reused for the plan's days are dropped; other days keep theirs.
    assert after[dt.date(2026, 3, 3)] != before.get(dt.date(2026, 3, 3))
    assert value("plan_pct", world.alice) == 50.0
    commit(plan.delete)
    assert doors == ["plan", "plan"]
    assert value("plan_pct", world.alice) is None
    clean()


def test_a_rolled_back_change_marks_nothing(world, at):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic(), refresh.background():
        refresh.changed("call", [world.alice.pk], [dt.date(2026, 3, 2)])
        raise RuntimeError
    assert not DirtyDay.objects.exists()


def test_deal_import_and_its_undo(world, commit, doors, monkeypatch):
    """A file of deals reaches the rollups through the one door, each touched (owner, day)
    recomputed once at the end however many rows named it; its undo goes the same way."""
    from django.db.models import Count, Sum

    from funnelwatch.crm.models import Deal
    from funnelwatch.imports import engine as imports
    from funnelwatch.imports import samples
    from funnelwatch.metrics.common import today
    from funnelwatch.metrics.models import DailyValue

    files = samples.opportunities(40)
    rebuilds: list[tuple[Period, set[int] | None]] = []
    real = engine.rebuild

    def spy(period, manager_ids=None, keys=None):
        rebuilds.append((period, manager_ids))
        return real(period, manager_ids, keys)

    monkeypatch.setattr(engine, "rebuild", spy)
    pipeline = [("sales_pipeline.csv", files["sales_pipeline.csv"])]
    _report, batch = commit(imports.run, pipeline, "generic", samples.MAPPING)
    assert "import" in doors
    span = Period(batch.first_day, batch.last_day + dt.timedelta(days=1))
    # Counted from the deals themselves: each won deal on its owner's closing day.
    won = {
        row["owner"]: row["n"]
        for row in Deal.objects.filter(status="won").values("owner").annotate(n=Count("pk"))
    }
    rolled = {
        row["manager"]: int(row["n"])
        for row in DailyValue.objects.filter(metric="won_count")
        .values("manager")
        .annotate(n=Sum("value"))
    }
    assert won and rolled == won
    # Once at the end: no (owner, day) of the file is recomputed twice.
    for owner in batch.owner_ids:
        for n in range((span.end - span.start).days):
            day = span.start + dt.timedelta(days=n)
            covering = [
                p for p, ms in rebuilds if p.start <= day < p.end and (ms is None or owner in ms)
            ]
            assert len(covering) <= 1, (owner, day)
    assert rebuilds and all(p.start >= span.start and p.end <= span.end for p, _ in rebuilds)
    assert engine.verify(span) == []
    assert engine.verify(Period(today(), today() + dt.timedelta(days=1))) == []

    doors.clear()
    rebuilds.clear()
    commit(imports.undo, batch, world.head)
    assert "import" in doors
    assert rebuilds
    assert not DailyValue.objects.filter(metric="won_count").exists()
    assert engine.verify(span) == []
    assert engine.verify(Period(today(), today() + dt.timedelta(days=1))) == []


def test_handoffs(world, at, commit, doors):
    """Each step of a request to another department marks the requester's days: the
    request's, and the day it is taken and done on."""
    from funnelwatch.accounts.models import Role, User
    from funnelwatch.handoffs import services as handoffs
    from funnelwatch.handoffs.models import Department

    ahead = User.objects.create_user("ahead", "ahead@firm.test", "pw", role=Role.DEPARTMENT)
    accounting = Department.objects.create(name="Accounting", head=ahead, sla_minutes=120)
    accounting.members.set([world.clerk])
    deal = commit(
        services.create_lead, actor=world.alice, title="Acme", owner=world.alice, at=at(2026, 3, 2)
    )
    doors.clear()
    asked = commit(
        handoffs.request,
        actor=world.alice,
        deal=deal,
        department=accounting,
        kind="invoice",
        text="Invoice",
        at=at(2026, 3, 2, 10),
    )
    assert "handoff" in doors  # besides "audit": the request's audit row is a CRM action
    assert value("handoff_requests", world.alice) == 1
    assert value("handoff_take_minutes", world.alice) is None
    commit(handoffs.take, asked, actor=world.clerk, at=at(2026, 3, 3, 10))
    commit(handoffs.finish, asked, actor=world.clerk, at=at(2026, 3, 3, 11))
    assert doors.count("handoff") == 3
    # Monday 10:00 to Tuesday 10:00: the working hours between them.
    assert value("handoff_take_minutes", world.alice) == pytest.approx(
        handoffs.working_minutes(at(2026, 3, 2, 10), at(2026, 3, 3, 10))
    )
    assert value("handoff_within_sla", world.alice) == 0.0
    clean()


def test_a_call_marked_as_a_mystery_shoppers(world, at, commit, doors, tmp_path, settings):
    """Marking a reviewed call as a test call takes its review out of the day's ordinary
    review score."""
    from funnelwatch.quality import services as quality
    from funnelwatch.quality.tests.conftest import make_call
    from funnelwatch.skills import services as skills

    settings.MEDIA_ROOT = str(tmp_path / "media")
    call = commit(make_call, world.alice, at(2026, 3, 2, 10))
    commit(refresh.changed, "call", [world.alice.pk], [call.started_at])
    checklist = quality.create_checklist("Script", "greeting | 1 | yes_no | Hello", world.head)
    criterion = checklist.criteria.get()
    commit(quality.save_review, call, checklist, world.reviewer, {criterion.pk: "no"})
    assert value("quality_review_score", world.alice) == 0
    doors.clear()
    commit(skills.mark_mystery, call, world.reviewer, "Shopper A")
    assert "quality" in doors
    assert value("quality_review_score", world.alice) is None
    clean()
