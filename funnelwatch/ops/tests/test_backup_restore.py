"""Backups restore: the demo department backed up while it runs and restored into a fresh
data folder (SQLite) or database (PostgreSQL, with DATABASE_URL) is the same department."""

from __future__ import annotations

import json
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from funnelwatch.ops.restore import count_rows
from funnelwatch.ops.tests.helpers import Targets, cli, files_under, query, rows_in

pytestmark = pytest.mark.django_db(transaction=True)

NOW = "2026-03-02T10:00:00+08:00"


@pytest.fixture
def targets(tmp_path):
    made = Targets(tmp_path)
    yield made
    made.close()


@pytest.fixture
def data_dir(settings, tmp_path):
    """This process's data folder and media under tmp_path."""
    settings.DATA_DIR = tmp_path / "source"
    settings.MEDIA_ROOT = str(tmp_path / "source" / "media")
    settings.FUNNELWATCH_FERNET_KEY = "kWZ0l1c2bn1ZrHtDbQtpHO1a6fB8lJt2XE1c0rFO3bE="
    settings.DATA_DIR.mkdir(mode=0o700)
    return settings.DATA_DIR


def _backup(folder: Path) -> dict:
    out = StringIO()
    call_command("backup", "--to", str(folder), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_demo_department_comes_back_whole(settings, data_dir, tmp_path, targets):
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.crm.models import Deal
    from funnelwatch.ops.models import Backup
    from funnelwatch.telephony.models import Recording

    call_command(
        "demo", "--months", "1", "--managers", "2", "--now", NOW, "--seed", "3", stdout=StringIO()
    )
    # The department verifies before it is backed up (so a failure after is the restore's).
    call_command("rollups", "verify", stdout=StringIO())
    before = count_rows()
    amounts = sorted((d.pk, str(d.amount)) for d in Deal.objects.all())

    made = _backup(tmp_path / "backups")

    archive = Path(made["archive"])
    assert archive.parent == tmp_path / "backups" and archive.name.endswith(".tar.gz")
    assert made["bytes"] == archive.stat().st_size > 0
    assert made["tables"] == before  # counted in the snapshot itself
    assert archive.stat().st_mode & 0o077 == 0  # it holds the keys: owner only
    # The backup is recorded, and audited, after its snapshot.
    row = Backup.objects.get()
    assert row.ok and row.archive == str(archive) and row.sha256 == made["sha256"]
    event = AuditEvent.objects.get(object_type="ops.backup")
    assert event.action == "export" and event.changes["archive"] == archive.name

    env = targets.new("restored")
    done = cli(["restore", str(archive), "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"], result["checks"]
    assert result["checks"]["rollups"]["ok"] and result["checks"]["rows"]["ok"]
    assert "repaired" not in result["checks"]["rollups"]  # nothing was being written
    # Every table, read without the product's code: the same rows, the audit trail included.
    assert rows_in(env) == before
    assert before["audit_auditevent"] > 0 and before["crm_deal"] > 0
    restored_amounts = sorted(
        (pk, str(amount)) for pk, amount in query(env, "SELECT id, amount FROM crm_deal")
    )
    assert [(pk, float(a)) for pk, a in restored_amounts] == [(pk, float(a)) for pk, a in amounts]
    # Recordings (and every other file) byte for byte.
    source_media = Path(settings.MEDIA_ROOT)
    target_media = Path(env["FUNNELWATCH_DATA_DIR"]) / "media"
    stored = Recording.objects.filter(status="stored").exclude(file="")
    assert stored.exists()
    for rec in stored:
        assert (target_media / rec.file.name).read_bytes() == Path(rec.file.path).read_bytes()
    assert files_under(target_media) == files_under(source_media)
    keys = Path(env["FUNNELWATCH_DATA_DIR"])
    assert (keys / "secret_key").read_text().strip() == settings.SECRET_KEY
    assert (keys / "fernet_key").read_text().strip() == settings.FUNNELWATCH_FERNET_KEY

    # A target that is no longer empty is refused, and left as it is...
    again = cli(["restore", str(archive)], env)
    assert again.returncode != 0 and "not empty" in again.stderr
    assert rows_in(env) == before
    # ...unless told, and what it replaces is kept beside it.
    forced = cli(["restore", str(archive), "--force", "--json"], env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    result = json.loads(forced.stdout)
    assert result["ok"] and result["replaced"]
    assert rows_in(env) == before
    if connection.vendor == "sqlite":
        parked_db = [p for p in result["replaced"] if "funnelwatch.sqlite3.replaced-" in p]
        assert parked_db, result["replaced"]
        kept = sqlite3.connect(parked_db[0])
        assert kept.execute("SELECT COUNT(*) FROM crm_deal").fetchone()[0] == before["crm_deal"]
        kept.close()
    else:
        assert any(p.startswith("schema funnelwatch_replaced_") for p in result["replaced"])
    parked_media = [Path(p) for p in result["replaced"] if Path(p).name.startswith("media.")]
    assert parked_media and files_under(parked_media[0]) == files_under(source_media)
