"""/healthz, the status page and /ops/metrics: a stopped worker and a failing mailbox show
within a minute; the load balancer's answer names no detail; metrics need the token."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from funnelwatch.ops import heartbeat

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def healthy(db, settings, tmp_path):
    """A running product: the database task backend, every periodic job just run."""
    from funnelwatch.core.models import PeriodicRun
    from funnelwatch.core.periodic import JOBS

    settings.TASKS = DB_TASKS
    settings.FUNNELWATCH_BACKUP_DIR = str(tmp_path / "backups")
    settings.FUNNELWATCH_HEARTBEAT_STALE_SECONDS = 45
    now = timezone.now()
    for name in JOBS:
        PeriodicRun.objects.create(name=name, last_started_at=now, last_finished_at=now)
    heartbeat.beat("worker", "worker-1")
    return now


def _health(client: Client, query: str = "") -> tuple[int, dict]:
    response = client.get("/healthz" + query)
    return response.status_code, json.loads(response.content)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_ok_names_no_detail(healthy, client):
    assert _health(client) == (200, {"status": "ok"})
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert client.post("/healthz").status_code == 405
    # A load balancer probing by address is answered too (no ALLOWED_HOSTS check).
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200


def test_a_stopped_worker_shows_within_a_minute(healthy, client, world):
    client.force_login(world.head)
    with time_machine.travel(healthy + dt.timedelta(seconds=30), tick=False):
        assert _health(client) == (200, {"status": "ok"})
        page = client.get(reverse("ops:status")).content.decode()
        assert "1 running" in page
    # The worker died without a word at healthy+0: its heartbeat stops.
    with time_machine.travel(healthy + dt.timedelta(seconds=59), tick=False):
        assert _health(client) == (200, {"status": "degraded"})
        assert _health(client, "?strict=1") == (503, {"status": "degraded"})
        page = client.get(reverse("ops:status")).content.decode()
        assert "stopped: no heartbeat for 59 s" in page
        assert "Needs attention" in page


@pytest.mark.django_db(transaction=True)  # its heartbeat thread writes on its own connection
def test_the_worker_command_beats_and_says_when_it_stops(healthy, client, world, settings):
    from funnelwatch.ops.models import Heartbeat

    Heartbeat.objects.all().delete()
    settings.FUNNELWATCH_HEARTBEAT_SECONDS = 0.05
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    beat = Heartbeat.objects.get(kind="worker")
    assert beat.pid and beat.host and beat.stopped_at is not None
    client.force_login(world.head)
    page = client.get(reverse("ops:status")).content.decode()
    assert "stopped: no heartbeat" in page
    assert _health(client) == (200, {"status": "degraded"})


def test_a_failing_mailbox_shows_at_once(healthy, client, world):
    from funnelwatch.mail import services, sync

    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="127.0.0.1",
        port=_closed_port(),
        login="alice",
        password="pw",
        security="none",
    )
    assert _health(client) == (200, {"status": "ok"})
    sync.sync_mailbox(box)  # the periodic sync: the server refuses the connection
    assert _health(client) == (200, {"status": "degraded"})
    client.force_login(world.head)
    page = client.get(reverse("ops:status")).content.decode()
    assert f"Mailbox alice@127.0.0.1: cannot connect to 127.0.0.1:{box.port}" in page
    assert 'data-state="fail"' in page


def test_healthz_answers_503_when_the_database_does_not(healthy, client, monkeypatch):
    from funnelwatch.ops import health

    monkeypatch.setattr(health, "database_ok", lambda: False)
    assert _health(client) == (503, {"status": "unavailable"})


def test_late_and_failing_periodic_jobs_are_reported(healthy, client, world):
    from funnelwatch.core.models import PeriodicRun

    PeriodicRun.objects.filter(name="mail.sync").update(last_error="Traceback…\nOSError: boom")
    client.force_login(world.head)
    page = client.get(reverse("ops:status")).content.decode()
    assert "Periodic jobs failing: mail.sync" in page and "OSError: boom" in page
    with time_machine.travel(healthy + dt.timedelta(hours=7), tick=False):
        page = client.get(reverse("ops:status")).content.decode()
        assert "Periodic jobs late:" in page and "quality.sample" in page


def test_only_the_head_sees_the_status_page(healthy, world):
    for user, code in ((world.head, 200), (world.lead, 403), (world.alice, 403)):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("ops:status")).status_code == code
    assert Client().get(reverse("ops:status")).status_code == 302
    head = Client()
    head.force_login(world.head)
    assert reverse("ops:status") in head.get(reverse("crm:deals")).content.decode()  # menu
    manager = Client()
    manager.force_login(world.alice)
    assert reverse("ops:status") not in manager.get(reverse("crm:deals")).content.decode()


@pytest.mark.parametrize(
    "language,heading", [("ru", "Состояние системы"), ("mn", "Системийн төлөв")]
)
def test_the_status_page_speaks_the_users_language(healthy, world, language, heading):
    client = Client()
    client.force_login(world.head)
    client.post(reverse("set_language"), {"language": language})
    page = client.get(reverse("ops:status")).content.decode()
    assert f"<h1>{heading}</h1>" in page


# --- Prometheus -------------------------------------------------------------------------------


def test_metrics_need_the_token(healthy, client, settings, world):
    from funnelwatch.mail import services, sync

    settings.FUNNELWATCH_METRICS_TOKEN = None
    assert client.get("/ops/metrics").status_code == 404  # off unless configured
    settings.FUNNELWATCH_METRICS_TOKEN = "s3cret-token"
    assert client.get("/ops/metrics").status_code == 401
    wrong = client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and "Bearer" in wrong["WWW-Authenticate"]

    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="127.0.0.1",
        port=_closed_port(),
        login="alice",
        password="pw",
        security="none",
    )
    sync.sync_mailbox(box)
    client.post("/api/telephony/webhooks/calls", "{}", content_type="application/json")
    response = client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'funnelwatch_mail_sync_errors{mailbox="alice@127.0.0.1"} 1.0' in text
    assert "funnelwatch_task_queue_depth 0.0" in text
    assert 'funnelwatch_processes_alive{kind="worker"} 1.0' in text
    assert 'funnelwatch_webhook_events_total{outcome="rejected",provider="generic"}' in text
    assert "funnelwatch_http_requests_total" in text
    assert 'funnelwatch_periodic_job_failing{job="mail.sync"} 0.0' in text


def test_queue_depth_counts_waiting_jobs(healthy, settings):
    from funnelwatch.core.tests.tasks import touch
    from funnelwatch.ops import prom

    settings.FUNNELWATCH_METRICS_TOKEN = "t"
    for n in range(3):
        touch.enqueue(f"/nonexistent/{n}")
    text = prom.exposition()[0].decode()
    assert "funnelwatch_task_queue_depth 3.0" in text


def test_import_rows_are_counted(db, world, tmp_path):
    from prometheus_client import REGISTRY

    from funnelwatch.telephony.importer import import_file
    from funnelwatch.telephony.tests import test_import

    def value(outcome: str) -> float:
        labels = {"format": "asterisk-custom", "outcome": outcome}
        return REGISTRY.get_sample_value("funnelwatch_import_rows_total", labels) or 0.0

    sample = test_import.SAMPLES / "asterisk_cdr_custom_master.csv"
    path = tmp_path / "Master.csv"
    path.write_bytes(sample.read_bytes() + b"not,a,cdr\n")
    imported, rejected = value("imported"), value("rejected")
    report = import_file(path, "asterisk-custom")
    assert value("imported") - imported == report.rows_read - len(report.rejected) == 14
    assert value("rejected") - rejected == len(report.rejected) == 1


# --- request ids and log lines ----------------------------------------------------------------


def test_each_request_has_an_id_in_its_answer_and_log_lines(db, client, settings):
    from funnelwatch.ops.logs import JsonFormatter, RequestIdFilter, request_id

    mine = client.get("/login/", HTTP_X_REQUEST_ID="lb-1234.abc")
    assert mine["X-Request-ID"] == "lb-1234.abc"
    made = client.get("/login/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert made["X-Request-ID"] != "bad id\nwith newline" and len(made["X-Request-ID"]) == 32
    assert client.get("/healthz")["X-Request-ID"]

    lines = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    log = logging.getLogger("django.request")
    log.addHandler(handler)
    try:
        client.get("/no/such/page/", HTTP_X_REQUEST_ID="req-42")
    finally:
        log.removeHandler(handler)
    assert len(lines) == 1 and "\n" not in lines[0]
    event = json.loads(lines[0])
    assert event["request_id"] == "req-42" and event["level"] == "WARNING"
    assert event["logger"] == "django.request" and "/no/such/page/" in event["message"]
    assert request_id.get() == "-"  # nothing leaks into the next request


def test_text_log_lines_keep_a_traceback_on_one_line():
    from funnelwatch.ops.logs import OneLineFormatter

    formatter = OneLineFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line and "ValueError: bad ⏎ thing" in line and "Traceback" in line


def test_json_logs_are_a_setting(monkeypatch):
    import importlib

    import funnelwatch.settings as module

    monkeypatch.setenv("FUNNELWATCH_LOG_FORMAT", "json")
    try:
        importlib.reload(module)
        assert module.LOGGING["handlers"]["console"]["formatter"] == "json"
        monkeypatch.setenv("FUNNELWATCH_LOG_FORMAT", "yaml")
        with pytest.raises(ValueError, match="FUNNELWATCH_LOG_FORMAT must be text or json"):
            importlib.reload(module)
    finally:
        monkeypatch.delenv("FUNNELWATCH_LOG_FORMAT")
        importlib.reload(module)


def test_the_looping_periodic_runner_beats_from_its_own_thread(transactional_db):
    import time

    from funnelwatch.ops.models import Heartbeat

    beater = heartbeat.Beater("periodic", 0.05).start()
    first = Heartbeat.objects.get(kind="periodic").beat_at
    time.sleep(0.3)
    assert Heartbeat.objects.get(kind="periodic").beat_at > first  # beats while running
    beater.stop()
    row = Heartbeat.objects.get(kind="periodic")
    assert row.stopped_at is not None and row.pid
