"""A backup taken while webhooks arrive and a user writes restores to one moment: every
write is there whole or not at all, and what is there is everything up to that moment."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from funnelwatch.ops.tests.helpers import Targets, cli, query, source_env

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "backup-test-secret"


@pytest.fixture
def targets(tmp_path):
    made = Targets(tmp_path)
    yield made
    made.close()


def _source(tmp_path: Path) -> dict[str, str]:
    """The environment of processes sharing this test's database: the test database itself
    on PostgreSQL; on SQLite (in memory here) a file copy of it."""
    if connection.vendor == "postgresql":
        env = source_env()
    else:
        folder = tmp_path / "source"
        folder.mkdir(mode=0o700)
        connection.ensure_connection()
        copy = sqlite3.connect(folder / "funnelwatch.sqlite3")
        connection.connection.backup(copy)
        copy.execute("PRAGMA journal_mode=WAL")
        copy.close()
        env = Targets(tmp_path).new("source")
    env["FUNNELWATCH_CALLS_WEBHOOK_SECRET"] = SECRET
    # Each event becomes its call in its own request, so "every stored event has its call"
    # holds at any moment a backup can catch.
    env["FUNNELWATCH_WEBHOOK_MODE"] = "sync"
    return env


def _progress(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _wait(paths, at_least: list[int], writers: list, seconds: float = 120) -> None:
    paths = list(paths)
    deadline = time.monotonic() + seconds
    while any(_progress(p) < n for p, n in zip(paths, at_least, strict=True)):
        for w in writers:
            if w.poll() is not None:
                pytest.fail(f"a writer stopped: {w.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail(f"writers too slow: {[_progress(p) for p in paths]}")
        time.sleep(0.05)


def _numbers(rows: list[tuple]) -> set[int]:
    return {int(re.search(r"conc-(\d+)$", str(r[0])).group(1)) for r in rows}


def test_a_backup_during_writes_restores_to_one_moment(world, tmp_path, targets):
    from funnelwatch.accounts.models import Extension, Role, User

    writer = User.objects.create_user("writer", role=Role.MANAGER, team=world.north)
    Extension.objects.create(user=writer, number="201")
    env = _source(tmp_path)
    stop = tmp_path / "stop"
    progress = {kind: tmp_path / f"{kind}.progress" for kind in ("webhooks", "leads")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "funnelwatch.ops.tests.writer", kind, str(stop), str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind, path in progress.items()
    ]
    try:
        _wait(progress.values(), [3, 3], writers)
        made = cli(["backup", "--to", str(tmp_path / "backups"), "--json"], env)
        assert made.returncode == 0, made.stderr
        # Each writer goes on past the end of the backup.
        _wait(progress.values(), [_progress(p) + 3 for p in progress.values()], writers)
    finally:
        stop.touch()
        outputs = [w.communicate(timeout=60) for w in writers]
    assert all(w.returncode == 0 for w in writers), outputs
    written = {kind: _progress(path) for kind, path in progress.items()}

    target = targets.new("restored")
    done = cli(["restore", json.loads(made.stdout)["archive"], "--json"], target)
    assert done.returncode == 0, done.stdout + done.stderr
    restored = json.loads(done.stdout)
    # The rollups verify (a refresh a write was still doing at the snapshot is redone).
    assert restored["ok"] and restored["checks"]["rollups"]["ok"], restored["checks"]

    # Webhooks: each stored event has its call, each call its event.
    events = _numbers(
        query(target, "SELECT event_key FROM telephony_webhookevent WHERE provider = 'generic'")
    )
    calls = _numbers(
        query(target, "SELECT external_id FROM telephony_call WHERE provider = 'generic'")
    )
    assert events == calls
    # Up to one moment: all of them from the first, none after a gap...
    assert events == set(range(len(events)))
    # ...and the moment fell while the writes ran.
    assert 3 <= len(events) < written["webhooks"]

    # The user's leads: each deal with its stage history and its audit event.
    deals = dict(query(target, "SELECT id, title FROM crm_deal WHERE title LIKE 'conc-%'"))
    numbers = _numbers([(title,) for title in deals.values()])
    assert numbers == set(range(len(numbers)))
    assert 3 <= len(numbers) < written["leads"]
    audited = {
        int(r[0])
        for r in query(
            target,
            "SELECT object_id FROM audit_auditevent WHERE object_type = 'crm.deal' "
            "AND action = 'create'",
        )
    }
    histories = {r[0] for r in query(target, "SELECT DISTINCT deal_id FROM crm_stagechange")}
    assert set(deals) <= audited and set(deals) <= histories
    orphans = audited - set(query_ids(target))
    assert not orphans, f"audit events of deals that are not there: {sorted(orphans)[:5]}"


def query_ids(env: dict[str, str]) -> list[int]:
    return [r[0] for r in query(env, "SELECT id FROM crm_deal")]
