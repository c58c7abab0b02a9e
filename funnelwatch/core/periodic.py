"""Periodic jobs: each app registers its own in ``<app>/periodic.py``; one command runs them.

A job is a function ``job(now: datetime) -> str | None`` that must be idempotent: safe to
run twice, and able to catch up when it runs late (it receives the current time and
works out what is due itself). ``funnelwatch runperiodic`` runs every job whose interval
has passed since it last started; several copies of the command (on several hosts)
claim a job through a row lock, so a job runs once per interval.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from funnelwatch.ops import prom

logger = logging.getLogger("funnelwatch.periodic")

Job = Callable[[dt.datetime], "str | None"]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    func: Job


JOBS: dict[str, PeriodicJob] = {}


def periodic(name: str, every: dt.timedelta) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        JOBS[name] = PeriodicJob(name, every, func)
        return func

    return register


def _claim(job: PeriodicJob, now: dt.datetime, force: bool) -> bool:
    from funnelwatch.core.models import PeriodicRun

    with transaction.atomic():
        run, _created = PeriodicRun.objects.get_or_create(name=job.name)
        run = PeriodicRun.objects.select_for_update().get(pk=run.pk)
        if not force and run.last_started_at and run.last_started_at + job.every > now:
            return False
        run.last_started_at = now
        run.save(update_fields=["last_started_at"])
    return True


def run_due(
    now: dt.datetime | None = None, *, only: str | None = None, force: bool = False
) -> list[tuple[str, str]]:
    """Run the jobs that are due; return (name, outcome) for each one that ran."""
    from funnelwatch.core.models import PeriodicRun

    now = now or timezone.now()
    results = []
    for job in sorted(JOBS.values(), key=lambda j: j.name):
        if only and job.name != only:
            continue
        if not _claim(job, now, force):
            continue
        error = ""
        try:
            outcome = job.func(now) or "ok"
        except Exception:  # one failing job must not stop the others
            error = traceback.format_exc()
            outcome = "failed: " + error.strip().splitlines()[-1]
            logger.exception("periodic job %s failed", job.name)
        PeriodicRun.objects.filter(name=job.name).update(
            last_finished_at=timezone.now(), last_error=error
        )
        prom.observe_job(job.name, failed=bool(error))
        results.append((job.name, outcome))
    return results
