from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from funnelwatch.core import periodic
from funnelwatch.core.models import PeriodicRun


@pytest.fixture
def job(monkeypatch):
    calls: list[dt.datetime] = []

    def count(now: dt.datetime) -> str:
        calls.append(now)
        return f"ran {len(calls)}"

    monkeypatch.setitem(
        periodic.JOBS,
        "test.count",
        periodic.PeriodicJob("test.count", dt.timedelta(hours=1), count),
    )
    return calls


@pytest.mark.django_db
def test_a_job_runs_once_per_interval_and_catches_up_late(job):
    t0 = timezone.now()
    assert ("test.count", "ran 1") in periodic.run_due(t0, only="test.count")
    assert periodic.run_due(t0 + dt.timedelta(minutes=30), only="test.count") == []
    assert len(job) == 1
    # Late by a day: it runs once, not 24 times; the job itself works out what is due.
    periodic.run_due(t0 + dt.timedelta(days=1), only="test.count")
    assert len(job) == 2
    run = PeriodicRun.objects.get(name="test.count")
    assert run.last_finished_at is not None and run.last_error == ""


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_does_not_stop_others(monkeypatch, job):
    def boom(now):
        raise RuntimeError("mail server down")

    monkeypatch.setitem(
        periodic.JOBS, "test.boom", periodic.PeriodicJob("test.boom", dt.timedelta(hours=1), boom)
    )
    results = dict(periodic.run_due())
    assert results["test.boom"].startswith("failed: RuntimeError: mail server down")
    assert results["test.count"] == "ran 1"
    assert "mail server down" in PeriodicRun.objects.get(name="test.boom").last_error


@pytest.mark.django_db
def test_runperiodic_command_lists_and_runs(job):
    out = StringIO()
    call_command("runperiodic", "--list", stdout=out)
    assert "test.count" in out.getvalue()
    out = StringIO()
    call_command("runperiodic", "--job", "test.count", stdout=out)
    assert "test.count: ran 1" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_a_job_enqueued_on_commit(settings, tmp_path):
    """The real queue: enqueue on commit into the database, then the worker runs it."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from funnelwatch.core.jobs import enqueue_on_commit
    from funnelwatch.core.tests.tasks import touch

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    marker = tmp_path / "ran"
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue_on_commit(touch, str(marker))
            raise RuntimeError("rolled back")
    assert DBTaskResult.objects.count() == 0
    with transaction.atomic():
        enqueue_on_commit(touch, str(marker))
    assert DBTaskResult.objects.count() == 1
    call_command(
        "db_worker",
        "--batch",
        "--no-reload",
        "--no-startup-delay",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert marker.read_text() == "done"
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
