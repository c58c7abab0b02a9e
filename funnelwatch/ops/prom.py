"""Prometheus metrics at /metrics, behind FUNNELWATCH_METRICS_TOKEN (prometheus-client).

Two kinds:

- counters kept by the processes that see the events: requests and their duration (web),
  webhook requests accepted or refused (web), rows imported from CDR files (the import
  command), periodic job runs (the periodic runner). With several gunicorn workers, and to
  count what the other commands do, set PROMETHEUS_MULTIPROC_DIR to one empty folder for
  every process (prometheus-client's multiprocess mode, summed at each scrape); without it
  each process counts for itself;
- gauges read from the database at each scrape (:mod:`funnelwatch.ops.health`), the same
  whichever worker answers: queue depth, failed jobs, heartbeats, periodic jobs' lag and
  failures, mailbox sync errors, webhook backlog, last backup, disk space.
"""

from __future__ import annotations

import logging
import os

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

logger = logging.getLogger("funnelwatch.metrics")

REQUESTS = Counter(
    "funnelwatch_http_requests",
    "HTTP requests answered, by method and status code",
    ["method", "status"],
)
REQUEST_SECONDS = Histogram(
    "funnelwatch_http_request_duration_seconds",
    "Time to answer an HTTP request",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOKS = Counter(
    "funnelwatch_webhook_events",
    "PBX webhook requests, by provider: accepted (2xx) or rejected (refused or invalid)",
    ["provider", "outcome"],
)
IMPORT_ROWS = Counter(
    "funnelwatch_import_rows",
    "Rows read from CDR files, by format and outcome (imported or rejected)",
    ["format", "outcome"],
)
JOB_RUNS = Counter(
    "funnelwatch_periodic_job_runs",
    "Periodic job runs, by job and outcome (ok or failed)",
    ["job", "outcome"],
)

# The first path segment under /api/telephony/webhooks/ names the provider.
PROVIDERS = {"twilio": "twilio", "zadarma": "zadarma", "mango": "mango", "calls": "generic"}
STATUS_CLASSES = {2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def observe_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    try:
        method = (
            request.method
            if request.method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
            else "other"
        )
        REQUESTS.labels(method, str(response.status_code)).inc()
        REQUEST_SECONDS.observe(seconds)
    except Exception:
        logger.warning("request not counted", exc_info=True)


def observe_webhook(rest: str, status: int) -> None:
    provider = PROVIDERS.get(rest.split("/", 1)[0], "other")
    try:
        WEBHOOKS.labels(provider, "accepted" if status < 400 else "rejected").inc()
    except Exception:
        logger.warning("webhook not counted", exc_info=True)


def observe_import(fmt: str, imported: int, rejected: int) -> None:
    try:
        if imported:
            IMPORT_ROWS.labels(fmt, "imported").inc(imported)
        if rejected:
            IMPORT_ROWS.labels(fmt, "rejected").inc(rejected)
    except Exception:
        logger.warning("import rows not counted", exc_info=True)


def observe_job(name: str, failed: bool) -> None:
    try:
        JOB_RUNS.labels(name, "failed" if failed else "ok").inc()
    except Exception:
        logger.warning("job run not counted", exc_info=True)


class DatabaseCollector:
    """Gauges computed from the database at scrape time."""

    def collect(self):
        from funnelwatch.ops import health
        from funnelwatch.ops.version import version

        now = timezone.now()
        yield InfoMetricFamily("funnelwatch", "Funnelwatch version", value={"version": version()})
        up = health.database_ok()
        yield GaugeMetricFamily(
            "funnelwatch_database_up", "1 when the database answers", value=1 if up else 0
        )
        if not up:
            return
        q = health.queue(now)
        depth = GaugeMetricFamily(
            "funnelwatch_task_queue_depth", "Background jobs waiting for a worker"
        )
        depth.add_metric([], q["ready"])
        yield depth
        yield GaugeMetricFamily(
            "funnelwatch_task_oldest_waiting_seconds",
            "Age of the oldest background job waiting",
            value=q["oldest_ready_age"],
        )
        tasks = GaugeMetricFamily(
            "funnelwatch_tasks", "Background job results kept, by status", labels=["status"]
        )
        for status in ("ready", "running", "failed", "succeeded"):
            tasks.add_metric([status], q[status])
        yield tasks
        yield GaugeMetricFamily(
            "funnelwatch_task_failures_24h",
            "Background jobs that failed in the last 24 hours",
            value=q["failed_24h"],
        )
        groups = health.processes(now)
        alive = GaugeMetricFamily(
            "funnelwatch_processes_alive",
            "Background processes with a fresh heartbeat, by kind",
            labels=["kind"],
        )
        age = GaugeMetricFamily(
            "funnelwatch_heartbeat_age_seconds",
            "Seconds since the newest heartbeat, by kind",
            labels=["kind"],
        )
        for kind, group in groups.items():
            alive.add_metric([kind], sum(1 for p in group.processes if p.alive))
            if group.last_beat is not None:
                age.add_metric([kind], (now - group.last_beat).total_seconds())
        yield alive
        yield age
        lag = GaugeMetricFamily(
            "funnelwatch_periodic_job_lag_seconds",
            "Seconds a periodic job is past its time",
            labels=["job"],
        )
        failing = GaugeMetricFamily(
            "funnelwatch_periodic_job_failing",
            "1 when a periodic job's last run failed",
            labels=["job"],
        )
        for job in health.jobs(now):
            lag.add_metric([job.name], job.lag)
            failing.add_metric([job.name], 1 if job.error else 0)
        yield lag
        yield failing
        boxes = health.mailboxes(now)
        errors = GaugeMetricFamily(
            "funnelwatch_mail_sync_errors",
            "1 when a mailbox's last sync failed",
            labels=["mailbox"],
        )
        success = GaugeMetricFamily(
            "funnelwatch_mail_last_success_timestamp_seconds",
            "When a mailbox last synced without error",
            labels=["mailbox"],
        )
        for box in boxes:
            if not box.is_active:
                continue
            errors.add_metric([box.label], 1 if box.error else 0)
            if box.last_success_at:
                success.add_metric([box.label], box.last_success_at.timestamp())
        yield errors
        yield success
        hooks = health.webhook_backlog(now)
        yield GaugeMetricFamily(
            "funnelwatch_webhook_events_unprocessed",
            "Queued webhook events not yet turned into calls",
            value=hooks["unprocessed"],
        )
        yield GaugeMetricFamily(
            "funnelwatch_webhook_events_failed_24h",
            "Stored webhook events that could not be processed, last 24 hours",
            value=hooks["failed_24h"],
        )
        backups = health.backups(now)
        if backups["last_ok"] is not None:
            yield GaugeMetricFamily(
                "funnelwatch_last_backup_timestamp_seconds",
                "When the last successful backup started",
                value=backups["last_ok"].started_at.timestamp(),
            )
            yield GaugeMetricFamily(
                "funnelwatch_last_backup_bytes",
                "Size of the last successful backup",
                value=backups["last_ok"].bytes,
            )
        free = GaugeMetricFamily(
            "funnelwatch_disk_free_bytes",
            "Free space where the product keeps data",
            labels=["path"],
        )
        total = GaugeMetricFamily(
            "funnelwatch_disk_total_bytes", "Size of the disk holding the data", labels=["path"]
        )
        for disk in health.disks():
            free.add_metric([disk.path], disk.free)
            total.add_metric([disk.path], disk.total)
        yield free
        yield total


def exposition() -> tuple[bytes, str]:
    """The text Prometheus scrapes."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _ProcessRegistry()
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessRegistry(CollectorRegistry):
    """This process's counters (the default registry) plus the database gauges."""

    def __init__(self) -> None:
        super().__init__()
        self._extra: list = []

    def register(self, collector) -> None:
        self._extra.append(collector)

    def collect(self):
        yield from REGISTRY.collect()
        for collector in self._extra:
            yield from collector.collect()
