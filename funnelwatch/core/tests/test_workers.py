"""Several task workers — as on several hosts — share one PostgreSQL and run each job once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "funnelwatch.settings"
    return env


def test_jobs_are_claimed_once_by_concurrent_workers(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database server the worker processes share (run with DATABASE_URL)")
    from funnelwatch.core.tests.tasks import append_line

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    out = tmp_path / "runs.txt"
    for i in range(60):
        append_line.enqueue(str(out), str(i))
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "funnelwatch.cli",
                "db_worker",
                "--batch",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.05",
                "--worker-id",
                f"w{n}",
            ],
            env=_worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(3)
    ]
    logs = [w.communicate(timeout=120)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), logs
    runs = Counter(out.read_text().split())
    assert set(runs) == {str(i) for i in range(60)}
    assert max(runs.values()) == 1  # no job ran twice
