"""A restore checks the archive before it writes anything, and says what is wrong with it;
a backup says why it failed and records the failure; backups are kept by day and week."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from funnelwatch.ops import backup, pgtools, restore
from funnelwatch.ops.restore import count_rows


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = str(tmp_path / "data" / "media")
    settings.DATA_DIR.mkdir(mode=0o700)
    return settings.DATA_DIR


@pytest.fixture
def archive(transactional_db, world, data_dir, tmp_path):
    """A backup of the little world with one stored recording."""
    from funnelwatch.telephony.models import Call, Recording

    call = Call.objects.create(
        provider="test",
        external_id="c1",
        direction="out",
        started_at=timezone.now(),
        outcome="answered",
        manager=world.alice,
    )
    rec = Recording(call=call, status=Recording.Status.STORED, content_type="audio/wav")
    rec.file.save("call.wav", ContentFile(b"RIFF" + bytes(range(256)) * 4), save=True)
    return backup.write_archive(tmp_path / "backups").archive


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar]


def _rewrite(path: Path, out: Path, change) -> Path:
    """A copy of the archive with ``change(name, data)`` applied to each member: it returns
    the new bytes, or None to leave the member out."""
    with tarfile.open(out, "w:gz") as tar:
        for info, data in _members(path):
            new = change(info.name, data)
            if new is None:
                continue
            info.size = len(new)
            tar.addfile(info, io.BytesIO(new))
    return out


def _refused(path: Path) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(path), stdout=StringIO())
    return str(refused.value)


def _unchanged(before: dict, media: dict, settings) -> None:
    assert count_rows() == before
    root = Path(settings.MEDIA_ROOT)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == media
    assert not list(Path(settings.DATA_DIR).glob(".restore-*"))  # no staging left behind


def _media(settings) -> dict:
    return {p: p.read_bytes() for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}


def test_a_damaged_archive_is_refused_before_anything_is_written(archive, settings, tmp_path):
    before, media = count_rows(), _media(settings)

    def flip(name: str, data: bytes) -> bytes:
        if name.startswith("media/"):
            return data[:10] + bytes([data[10] ^ 1]) + data[11:]
        return data

    message = _refused(_rewrite(archive, tmp_path / "flipped.tar.gz", flip))
    assert "checksum mismatch for 'media/recordings/" in message and "damaged" in message

    dropped = _rewrite(
        archive, tmp_path / "dropped.tar.gz", lambda n, d: None if n.startswith("media/") else d
    )
    assert "missing, first 'media/recordings/" in _refused(dropped)

    def smuggle(name: str, data: bytes) -> bytes:
        return data

    with tarfile.open(tmp_path / "evil.tar.gz", "w:gz") as tar:
        for info, data in _members(archive):
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("media/../../secret_key")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert "unexpected member 'media/../../secret_key'" in _refused(tmp_path / "evil.tar.gz")

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert "not a readable backup archive" in _refused(truncated)

    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    assert "not a readable backup archive" in _refused(text)
    assert "no such file" in _refused(tmp_path / "nowhere.tar.gz")

    no_manifest = _rewrite(
        archive, tmp_path / "nomanifest.tar.gz", lambda n, d: None if n == "manifest.json" else d
    )
    assert "no manifest.json" in _refused(no_manifest)
    _unchanged(before, media, settings)


def _with_manifest(archive: Path, out: Path, edit) -> Path:
    def change(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()

    return _rewrite(archive, out, change)


def test_a_backup_of_another_kind_or_a_newer_version_is_refused(archive, settings, tmp_path):
    from django.db import connection

    before, media = count_rows(), _media(settings)
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"

    def vendor(m: dict) -> None:
        m["database"]["vendor"] = other

    message = _refused(_with_manifest(archive, tmp_path / "other.tar.gz", vendor))
    assert f"holds a {other} database" in message

    def newer(m: dict) -> None:
        m["version"] = "9.0.0"
        m["migrations"]["crm"].append("0999_from_the_future")

    message = _refused(_with_manifest(archive, tmp_path / "newer.tar.gz", newer))
    assert "crm.0999_from_the_future" in message and "install Funnelwatch 9.0.0 or newer" in message
    _unchanged(before, media, settings)


def test_a_target_that_is_not_empty_is_left_alone(archive, settings):
    before, media = count_rows(), _media(settings)
    message = _refused(archive)
    assert "the target is not empty" in message and "--force" in message
    _unchanged(before, media, settings)


def test_the_audit_trail_is_checked_when_this_version_can(monkeypatch, db):
    """``funnelwatch audit verify`` runs after a restore when the command exists."""
    from django.core import management

    calls = []
    real = management.get_commands()

    def call_command(name: str, *args: object, **kwargs: object) -> None:
        calls.append((name, *args))
        if name == "audit":
            raise CommandError("audit trail broken at event #7")

    monkeypatch.setattr(management, "call_command", call_command)
    monkeypatch.setattr(
        management, "get_commands", lambda: {k: v for k, v in real.items() if k != "audit"}
    )
    checks = restore.verify_restored()
    assert set(checks) == {"rollups"} and checks["rollups"]["ok"]
    monkeypatch.setattr(management, "get_commands", lambda: {**real, "audit": "funnelwatch.audit"})
    checks = restore.verify_restored()
    assert calls[-1] == ("audit", "verify")
    assert not checks["audit"]["ok"] and "broken at event #7" in checks["audit"]["detail"]


def test_a_failed_backup_says_why_and_is_recorded(
    transactional_db, data_dir, tmp_path, monkeypatch
):
    from funnelwatch.ops.models import Backup

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("backup", "--to", str(a_file))

    def broken(workdir: Path) -> None:
        raise backup.BackupError("pg_dump failed (exit 1): connection refused")

    monkeypatch.setattr(backup, "snapshot", broken)
    with pytest.raises(CommandError, match="backup failed: pg_dump failed"):
        call_command("backup", "--to", str(tmp_path / "b"))
    row = Backup.objects.get()
    assert not row.ok and "connection refused" in row.error
    assert not [p for p in (tmp_path / "b").iterdir()]  # nothing half-written left


def test_no_backup_inside_a_transaction(db, data_dir, tmp_path):
    with pytest.raises(backup.BackupError, match="inside a database transaction"):
        backup.write_archive(tmp_path / "b")


# --- pg_dump of the server's version -------------------------------------------------------


def _fake(folder: Path, tool: str, version: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / tool
    path.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {version} (Debian)'\n")
    path.chmod(0o755)
    return str(path)


def test_pg_dump_must_be_at_least_the_servers_version(tmp_path, monkeypatch):
    old = _fake(tmp_path / "13", "pg_dump", "13.4")
    same = _fake(tmp_path / "15", "pg_dump", "15.2")
    newer = _fake(tmp_path / "16", "pg_dump", "16.1")
    monkeypatch.setattr(pgtools, "candidates", lambda tool: [old])
    with pytest.raises(pgtools.ClientMissing) as missing:
        pgtools.client_for("pg_dump", 15)
    assert "apt-get install postgresql-client-15" in str(missing.value)
    assert f"{old} (13)" in str(missing.value)
    monkeypatch.setattr(pgtools, "candidates", lambda tool: [old, newer, same])
    assert pgtools.client_for("pg_dump", 15) == (same, 15)  # the matching one first
    assert pgtools.client_for("pg_dump", 14) == (newer, 16)  # else the newest


def test_pg_bindir_is_searched_first(tmp_path, settings):
    mine = _fake(tmp_path / "bin", "pg_restore", "17.0")
    settings.FUNNELWATCH_PG_BINDIR = str(tmp_path / "bin")
    assert pgtools.candidates("pg_restore")[0] == mine


# --- retention -------------------------------------------------------------------------------


def test_retention_keeps_the_newest_of_each_day_and_week(tmp_path, settings):
    settings.TIME_ZONE = "UTC"
    folder = tmp_path / "b"
    folder.mkdir()
    start = dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.UTC)  # a Tuesday
    names = []
    for days in range(40):  # one at 01:00 and one at 23:00 every day, going back
        for hour in (1, 23):
            at = (start - dt.timedelta(days=days)).replace(hour=hour)
            name = f"funnelwatch-{at:%Y%m%dT%H%M%SZ}.tar.gz"
            (folder / name).write_bytes(b"x")
            names.append((at, name))
    (folder / "notes.txt").write_text("mine")
    deleted = backup.prune_folder(folder, keep_daily=3, keep_weekly=2)
    kept = sorted(p.name for p in folder.iterdir())
    # The 23:00 one of the last three days, and of the last two ISO weeks (Sunday 29th is the
    # newest of the week before); the week of the 31st is already in.
    assert kept == sorted(
        [
            "funnelwatch-20260331T230000Z.tar.gz",
            "funnelwatch-20260330T230000Z.tar.gz",
            "funnelwatch-20260329T230000Z.tar.gz",
            "notes.txt",
        ]
    )
    assert len(deleted) == 80 - 3
    backup.prune_folder(folder, keep_daily=1, keep_weekly=0)
    assert sorted(p.name for p in folder.iterdir()) == [
        "funnelwatch-20260331T230000Z.tar.gz",
        "notes.txt",
    ]


def test_the_daily_backup_runs_once_a_day_after_its_time(
    transactional_db, world, data_dir, tmp_path, settings
):
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.ops import periodic
    from funnelwatch.ops.models import Backup

    settings.FUNNELWATCH_BACKUP_DIR = str(tmp_path / "daily")
    settings.FUNNELWATCH_BACKUP_DAILY_AT = None
    tz = timezone.get_current_timezone()

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 3, day, hour, minute, tzinfo=tz)

    with time_machine.travel(at(2, 3), tick=False):
        assert periodic.scheduled_backup(timezone.now()) is None  # not configured
    settings.FUNNELWATCH_BACKUP_DAILY_AT = "02:30"
    settings.FUNNELWATCH_BACKUP_KEEP_DAILY = 2
    settings.FUNNELWATCH_BACKUP_KEEP_WEEKLY = 0
    # First run: yesterday's 02:30 has no backup, so one is taken at once...
    with time_machine.travel(at(2, 2, 10), tick=False):
        assert periodic.scheduled_backup(timezone.now()).startswith("funnelwatch-")
    with time_machine.travel(at(2, 2, 20), tick=False):
        assert periodic.scheduled_backup(timezone.now()) is None  # ...and today's is not due
    for day in (2, 3, 4):
        with time_machine.travel(at(day, 3), tick=False):
            assert periodic.scheduled_backup(timezone.now()).startswith("funnelwatch-")
        with time_machine.travel(at(day, 3, 30), tick=False):
            assert periodic.scheduled_backup(timezone.now()) is None  # once a day
    assert Backup.objects.filter(trigger="schedule").count() == 4
    assert (
        AuditEvent.objects.filter(object_type="ops.backup", source_name="scheduled backup").count()
        == 4
    )
    # Kept: the last two days.
    assert len(list((tmp_path / "daily").glob("funnelwatch-*.tar.gz"))) == 2
    # A missed slot is caught up late the next time the job runs.
    with time_machine.travel(at(6, 18), tick=False):
        assert periodic.scheduled_backup(timezone.now())


def test_a_bad_daily_time_is_named(settings):
    from funnelwatch.ops import backup

    settings.FUNNELWATCH_BACKUP_DAILY_AT = "25:00"
    with pytest.raises(ValueError, match="FUNNELWATCH_BACKUP_DAILY_AT must be HH:MM"):
        backup.backup_daily_at()
