"""What the status page, /healthz and /metrics report, gathered in one place.

Each part is read from the database when asked (nothing is kept in a process), so every web
worker answers the same and a stopped worker or a failing mailbox shows at the next look:
heartbeats older than FUNNELWATCH_HEARTBEAT_STALE_SECONDS (45 s) mean a stopped process, a
mailbox whose last sync left an error is failing.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.ops.backup import backup_daily_at, backup_dir

OK, WARN, FAIL = "ok", "warn", "fail"
# A periodic job this far past its time is late (the runner checks every minute).
JOB_GRACE = dt.timedelta(minutes=3)
PBX_WINDOW = dt.timedelta(days=7)


def database_ok() -> bool:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone()[0] == 1
    except DatabaseError:
        return False


def tasks_need_worker() -> bool:
    """Jobs go to a worker only with the database backend (tests run them at once)."""
    backend = settings.TASKS.get("default", {}).get("BACKEND", "")
    return backend.endswith("DatabaseBackend")


@dataclass
class Process:
    kind: str
    host: str
    pid: int | None
    started_at: dt.datetime
    beat_at: dt.datetime
    stopped_at: dt.datetime | None
    age: float
    alive: bool


@dataclass
class ProcessGroup:
    kind: str
    label: str
    state: str
    processes: list[Process]
    last_beat: dt.datetime | None
    note: str


def processes(now: dt.datetime) -> dict[str, ProcessGroup]:
    from funnelwatch.ops.models import Heartbeat

    stale = dt.timedelta(seconds=settings.FUNNELWATCH_HEARTBEAT_STALE_SECONDS)
    recent = now - dt.timedelta(days=1)
    groups = {}
    for kind, label in Heartbeat.Kind.choices:
        rows = list(
            Heartbeat.objects.filter(kind=kind).filter(
                Q(beat_at__gte=recent) | Q(stopped_at__isnull=True)
            )[:50]
        )
        found = [
            Process(
                kind,
                r.host,
                r.pid,
                r.started_at,
                r.beat_at,
                r.stopped_at,
                (now - r.beat_at).total_seconds(),
                r.stopped_at is None and now - r.beat_at <= stale,
            )
            for r in rows
        ]
        last = max((p.beat_at for p in found), default=None)
        if last is None:
            last = Heartbeat.objects.filter(kind=kind).aggregate(x=Max("beat_at"))["x"]
        alive = [p for p in found if p.alive]
        if alive:
            state, note = OK, _("%(n)d running") % {"n": len(alive)}
        elif kind == Heartbeat.Kind.WORKER and not tasks_need_worker():
            state, note = OK, _("not needed: background jobs run at once")
        elif last is None:
            if kind == Heartbeat.Kind.WORKER:
                state, note = FAIL, _("never seen: start funnelwatch db_worker")
            else:
                # Run from cron instead of --loop it never beats; the jobs' lag tells.
                state, note = OK, _("no looping runner seen; see the periodic jobs below")
        else:
            state = FAIL
            note = _("stopped: no heartbeat for %(s)d s") % {
                "s": round((now - last).total_seconds())
            }
        groups[kind] = ProcessGroup(kind, str(label), state, found, last, note)
    return groups


@dataclass
class JobState:
    name: str
    every: dt.timedelta
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    lag: float
    error: str
    state: str


def jobs(now: dt.datetime) -> list[JobState]:
    from funnelwatch.core.models import PeriodicRun
    from funnelwatch.core.periodic import JOBS

    runs = {r.name: r for r in PeriodicRun.objects.all()}
    out = []
    for name in sorted(JOBS):
        job, run = JOBS[name], runs.get(name)
        started = run.last_started_at if run else None
        due = started + job.every if started else None
        lag = max((now - due).total_seconds(), 0.0) if due else 0.0
        error = (run.last_error.strip().splitlines() or [""])[-1] if run else ""
        if error:
            state = FAIL
        elif started is None or lag > JOB_GRACE.total_seconds():
            state = WARN
        else:
            state = OK
        out.append(
            JobState(
                name, job.every, started, run.last_finished_at if run else None, lag, error, state
            )
        )
    return out


def queue(now: dt.datetime) -> dict:
    from django_tasks_db.models import DBTaskResult

    counts = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")).order_by())
    ready = DBTaskResult.objects.ready()
    oldest = ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    failed_day = (
        DBTaskResult.objects.failed().filter(finished_at__gte=now - dt.timedelta(days=1)).count()
    )
    return {
        "ready": ready.count(),
        "running": counts.get("RUNNING", 0),
        "failed": counts.get("FAILED", 0),
        "failed_24h": failed_day,
        "succeeded": counts.get("SUCCESSFUL", 0),
        "oldest_ready_age": (now - oldest).total_seconds() if oldest else 0.0,
    }


def webhook_backlog(now: dt.datetime) -> dict:
    from funnelwatch.telephony.models import WebhookEvent

    day = WebhookEvent.objects.filter(received_at__gte=now - dt.timedelta(days=1))
    # Within a window read through the received_at index: the table holds every event ever.
    recent = WebhookEvent.objects.filter(received_at__gte=now - dt.timedelta(days=2))
    return {
        "unprocessed": recent.filter(
            processed_at__isnull=True, error="", payload__has_key="_kind"
        ).count(),
        "failed_24h": day.exclude(error="").count(),
        "received_24h": day.count(),
    }


@dataclass
class MailboxState:
    pk: int
    label: str
    owner: str
    is_active: bool
    last_sync_at: dt.datetime | None
    last_success_at: dt.datetime | None
    error: str
    state: str


def mailboxes(now: dt.datetime) -> list[MailboxState]:
    from funnelwatch.mail.models import Mailbox

    late = dt.timedelta(minutes=3 * settings.FUNNELWATCH_MAIL_SYNC_MINUTES + 5)
    out = []
    for box in Mailbox.objects.select_related("user").order_by("user__username", "login"):
        error = box.last_error.strip()
        if not box.is_active:
            state = OK
        elif error:
            state = FAIL
        elif box.last_success_at is None or now - box.last_success_at > late:
            state = WARN
        else:
            state = OK
        out.append(
            MailboxState(
                box.pk,
                str(box),
                str(box.user),
                box.is_active,
                box.last_sync_at,
                box.last_success_at,
                error.splitlines()[0][:300] if error else "",
                state,
            )
        )
    return out


@dataclass
class PbxState:
    provider: str
    configured: bool
    last_event_at: dt.datetime | None
    last_call_at: dt.datetime | None
    events: int
    errors: int
    state: str


def pbx(now: dt.datetime, window: dt.timedelta = PBX_WINDOW) -> list[PbxState]:
    from funnelwatch.telephony.models import Call, WebhookEvent

    since = now - window
    configured = {
        "twilio": bool(settings.FUNNELWATCH_TWILIO_AUTH_TOKEN),
        "zadarma": bool(settings.FUNNELWATCH_ZADARMA_SECRET),
        "mango": bool(settings.FUNNELWATCH_MANGO_API_KEY),
        "generic": bool(settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET),
    }
    events = {
        row["provider"]: row
        for row in WebhookEvent.objects.filter(received_at__gte=since)
        .values("provider")
        .annotate(last=Max("received_at"), n=Count("id"), errors=Count("id", filter=~Q(error="")))
        .order_by()
    }
    calls = dict(
        Call.objects.filter(started_at__gte=since)
        .values_list("provider")
        .annotate(last=Max("started_at"))
        .order_by()
    )
    names = sorted({p for p, on in configured.items() if on} | set(events) | set(calls))
    out = []
    for name in names:
        ev = events.get(name, {})
        errors = ev.get("errors", 0)
        last_event, last_call = ev.get("last"), calls.get(name)
        if configured.get(name) and not (last_event or last_call):
            state = WARN
        elif errors:
            state = WARN
        else:
            state = OK
        out.append(
            PbxState(
                name,
                configured.get(name, False),
                last_event,
                last_call,
                ev.get("n", 0),
                errors,
                state,
            )
        )
    return out


@dataclass
class DiskState:
    label: str
    path: str
    free: int
    total: int
    state: str

    @property
    def free_percent(self) -> float:
        return 100.0 * self.free / self.total if self.total else 0.0


def disks() -> list[DiskState]:
    places = [
        (_("data folder"), Path(settings.DATA_DIR)),
        (_("recordings and attachments"), Path(settings.MEDIA_ROOT)),
        (_("backups"), backup_dir()),
    ]
    seen, out = set(), []
    for label, path in places:
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            usage = shutil.disk_usage(probe)
            device = probe.stat().st_dev
        except OSError:
            continue
        if device in seen:
            continue
        seen.add(device)
        low = (
            usage.total
            and 100.0 * usage.free / usage.total < settings.FUNNELWATCH_DISK_MIN_FREE_PERCENT
        )
        out.append(DiskState(str(label), str(path), usage.free, usage.total, FAIL if low else OK))
    return out


def backups(now: dt.datetime) -> dict:
    from funnelwatch.ops.models import Backup
    from funnelwatch.ops.periodic import backup_due

    last_ok = Backup.objects.filter(error="", finished_at__isnull=False).first()
    last = Backup.objects.first()
    scheduled = backup_daily_at()
    state = OK
    if last is not None and last.error:
        state = FAIL
    elif scheduled is not None and (
        last_ok is None or now - last_ok.started_at > dt.timedelta(hours=26)
    ):
        state = FAIL if last_ok is not None else WARN
    return {
        "last": last,
        "last_ok": last_ok,
        "folder": str(backup_dir()),
        "daily_at": scheduled,
        "due": backup_due(now) if scheduled else False,
        "state": state,
    }


def database(now: dt.datetime) -> dict:
    from django.db.migrations.executor import MigrationExecutor

    info = {"vendor": connection.vendor, "version": "", "size": None, "pending": 0}
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT current_setting('server_version'), pg_database_size(current_database())"
            )
            info["version"], info["size"] = cur.fetchone()
        elif connection.vendor == "sqlite":
            cur.execute("SELECT sqlite_version()")
            info["version"] = cur.fetchone()[0]
            name = Path(str(settings.DATABASES["default"]["NAME"]))
            if name.is_file():
                info["size"] = name.stat().st_size
    executor = MigrationExecutor(connection)
    info["pending"] = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    return info


@dataclass
class Report:
    now: dt.datetime
    database: dict
    processes: dict[str, ProcessGroup]
    jobs: list[JobState]
    queue: dict
    webhooks: dict
    mailboxes: list[MailboxState]
    pbx: list[PbxState]
    disks: list[DiskState]
    backups: dict
    problems: list[str] = field(default_factory=list)


def report(now: dt.datetime | None = None) -> Report:
    now = now or timezone.now()
    rep = Report(
        now=now,
        database=database(now),
        processes=processes(now),
        jobs=jobs(now),
        queue=queue(now),
        webhooks=webhook_backlog(now),
        mailboxes=mailboxes(now),
        pbx=pbx(now),
        disks=disks(),
        backups=backups(now),
    )
    rep.problems = problems(rep)
    return rep


def problems(rep: Report) -> list[str]:
    """What needs someone's attention, one sentence each (translated)."""
    out = []
    if rep.database["pending"]:
        out.append(
            _("%(n)d database migrations are not applied: run funnelwatch migrate")
            % {"n": rep.database["pending"]}
        )
    for group in rep.processes.values():
        if group.state == FAIL:
            out.append(f"{group.label}: {group.note}")
    late = [j.name for j in rep.jobs if j.state != OK]
    failing = [j.name for j in rep.jobs if j.state == FAIL]
    if failing:
        out.append(_("Periodic jobs failing: %(names)s") % {"names": ", ".join(failing)})
    late = [name for name in late if name not in failing]
    if late:
        out.append(_("Periodic jobs late: %(names)s") % {"names": ", ".join(late)})
    for box in rep.mailboxes:
        if box.state == FAIL:
            out.append(_("Mailbox %(box)s: %(error)s") % {"box": box.label, "error": box.error})
    for disk in rep.disks:
        if disk.state == FAIL:
            out.append(
                _("Little disk space left for the %(label)s: %(pct).1f%% free")
                % {"label": disk.label, "pct": disk.free_percent}
            )
    if rep.backups["state"] == FAIL:
        out.append(_("The last backup failed or is older than a day"))
    return out


def health_problems(now: dt.datetime | None = None) -> list[str]:
    """The cheap subset /healthz looks at: processes, jobs, mailboxes, disks, backups."""
    now = now or timezone.now()
    rep = Report(
        now=now,
        database={"pending": 0},
        processes=processes(now),
        jobs=jobs(now),
        queue={},
        webhooks={},
        mailboxes=mailboxes(now),
        pbx=[],
        disks=disks(),
        backups=backups(now),
    )
    return problems(rep)
