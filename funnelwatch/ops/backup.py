"""``funnelwatch backup``: one archive holding everything needed to bring the product back.

The archive (``funnelwatch-YYYYMMDDTHHMMSSZ.tar.gz``, owner-only) holds:

- ``database/funnelwatch.sqlite3``: a copy made through SQLite's online backup API in one
  step, so it is the database as of one moment while the product keeps writing; or
  ``database/funnelwatch.pgdump``: ``pg_dump --format=custom`` of a snapshot exported from
  a repeatable-read transaction, in which the rows per table are counted too;
- ``media/…``: the recordings and attachments, read after the database snapshot (a file
  the snapshot names was written before its row, so it is there);
- ``keys/secret_key`` and ``keys/fernet_key``: Django's secret and the key the mailbox
  passwords are encrypted with (without it they cannot be read after a restore);
- ``manifest.json``: the version, the applied migrations, rows per table and the SHA-256
  and size of every other member, checked by ``funnelwatch restore`` before it writes.

The archive is written under a temporary name and renamed when complete, so a half-written
archive never carries a backup's name. Each backup is recorded (``ops.Backup``) and its
success in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from funnelwatch.lib.env import private_dir
from funnelwatch.ops import pgtools
from funnelwatch.ops.version import version

logger = logging.getLogger("funnelwatch.backup")

FORMAT = 1
NAME = re.compile(r"^funnelwatch-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz$")
SQLITE_MEMBER = "database/funnelwatch.sqlite3"
PGDUMP_MEMBER = "database/funnelwatch.pgdump"
MANIFEST = "manifest.json"
# Schemas that ``restore --force`` parked the replaced data in: not part of the product.
PARKED_SCHEMA_PREFIX = "funnelwatch_replaced_"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup could not be taken; the message says why."""


@dataclass
class BackupResult:
    archive: Path
    bytes: int
    sha256: str
    tables: dict[str, int]
    created_at: dt.datetime
    files: int
    seconds: float = 0.0
    deleted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "archive": str(self.archive),
            "bytes": self.bytes,
            "tables": self.tables,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat(),
            "files": self.files,
            "seconds": round(self.seconds, 2),
            "deleted": self.deleted,
        }


class _HashingReader:
    """Reads a file for tarfile while hashing what it reads."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- the database snapshot ----------------------------------------------------------------


@dataclass
class Snapshot:
    path: Path
    member: str
    tables: dict[str, int]
    migrations: dict[str, list[str]]
    meta: dict


def _migrations(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(rows):
        applied.setdefault(app, []).append(name)
    return applied


def _sqlite_snapshot(workdir: Path) -> Snapshot:
    connection.ensure_connection()
    target = workdir / "funnelwatch.sqlite3"
    copy = sqlite3.connect(target)
    try:
        # One step (pages=-1): the copy is the database as of one moment; other connections
        # keep writing meanwhile (WAL), and nothing they commit later reaches the copy.
        connection.connection.backup(copy, pages=-1)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy of the SQLite database fails its check: {check}")
        names = [
            row[0]
            for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = {
            name: copy.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names
        }
        migrations = (
            _migrations(copy.execute("SELECT app, name FROM django_migrations").fetchall())
            if "django_migrations" in tables
            else {}
        )
        sqlite_version = copy.execute("SELECT sqlite_version()").fetchone()[0]
    finally:
        copy.close()
    os.chmod(target, 0o600)
    return Snapshot(
        target,
        SQLITE_MEMBER,
        tables,
        migrations,
        {"vendor": "sqlite", "server_version": sqlite_version},
    )


def _postgres_snapshot(workdir: Path) -> Snapshot:
    raw = connection.get_new_connection(connection.get_connection_params())
    target = workdir / "funnelwatch.pgdump"
    try:
        cur = raw.cursor()
        # The snapshot pg_dump reads is exported from this transaction, in which the rows
        # are counted too: the counts are those of the dump.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(
            "SELECT pg_export_snapshot(), current_setting('server_version_num')::int, "
            "current_setting('server_version'), current_database(), current_schema()"
        )
        snapshot, version_num, server_version, dbname, schema = cur.fetchone()
        server_major = version_num // 10000
        try:
            pg_dump, client_major = pgtools.client_for("pg_dump", server_major)
        except pgtools.ClientMissing as exc:
            raise BackupError(str(exc)) from None
        args, env = pgtools.connection_env(connection.settings_dict)
        command = [
            pg_dump,
            *args,
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--snapshot={snapshot}",
            f"--exclude-schema={PARKED_SCHEMA_PREFIX}*",
            "--file",
            str(target),
            "--dbname",
            dbname,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema]
        )
        names = [row[0] for row in cur.fetchall()]
        tables = {}
        for name in names:
            cur.execute(f'SELECT COUNT(*) FROM "{name}"')
            tables[name] = cur.fetchone()[0]
        migrations = {}
        if "django_migrations" in tables:
            cur.execute("SELECT app, name FROM django_migrations")
            migrations = _migrations(cur.fetchall())
    finally:
        raw.rollback()
        raw.close()
    os.chmod(target, 0o600)
    return Snapshot(
        target,
        PGDUMP_MEMBER,
        tables,
        migrations,
        {
            "vendor": "postgresql",
            "server_version": server_version,
            "server_major": server_major,
            "pg_dump_major": client_major,
        },
    )


def snapshot(workdir: Path) -> Snapshot:
    if connection.in_atomic_block:
        # The copy must be of committed data only, as any other connection sees it.
        raise BackupError("a backup cannot be taken inside a database transaction")
    if connection.vendor == "sqlite":
        return _sqlite_snapshot(workdir)
    if connection.vendor == "postgresql":
        return _postgres_snapshot(workdir)
    raise BackupError(f"backups of a {connection.vendor} database are not supported")


# --- keys and media -------------------------------------------------------------------------


def keys() -> dict[str, bytes]:
    """Django's secret and the mailbox-password key, wherever they come from."""
    from funnelwatch.mail.crypto import fernet_key

    return {
        "keys/secret_key": (settings.SECRET_KEY + "\n").encode(),
        "keys/fernet_key": (fernet_key() + "\n").encode(),
    }


def media_files(skip: list[Path]) -> list[tuple[Path, str]]:
    """(path, name in the archive) of every regular file under MEDIA_ROOT, sorted."""
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return []
    skipped = [p.resolve() for p in skip]
    out = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skipped)
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            out.append((path, "media/" + path.relative_to(root).as_posix()))
    return out


# --- the archive ----------------------------------------------------------------------------


def _archive_name(folder: Path, at: dt.datetime) -> Path:
    stamp = at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"funnelwatch-{stamp}.tar.gz"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"funnelwatch-{stamp}-{n}.tar.gz"
    return path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, files: dict) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, _BytesReader(data))
    files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk = self.data[self.pos : end]
        self.pos += len(chunk)
        return chunk


def _add_file(tar: tarfile.TarFile, path: Path, name: str, files: dict) -> None:
    with open(path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        info = tarfile.TarInfo(name)
        info.size = stat.st_size
        info.mode = 0o600
        info.mtime = int(stat.st_mtime)
        reader = _HashingReader(fh)
        tar.addfile(info, reader)
    files[name] = {"sha256": reader.digest.hexdigest(), "bytes": stat.st_size}


def _write_members(
    raw,
    snap: Snapshot,
    files: dict,
    skip: list[Path],
    created_at: dt.datetime,
) -> None:
    with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=3, format=tarfile.PAX_FORMAT) as tar:
        _add_file(tar, snap.path, snap.member, files)
        for name, data in keys().items():
            _add_bytes(tar, name, data, files)
        media = media_files(skip=skip)
        for path, name in media:
            try:
                _add_file(tar, path, name, files)
            except FileNotFoundError:
                # Removed since the walk (recording retention): the snapshot may still
                # name it, as it would have the moment before.
                logger.warning("backup: %s disappeared while the backup ran", path)
        manifest = {
            "format": FORMAT,
            "product": "funnelwatch",
            "version": version(),
            "created_at": created_at.isoformat(),
            "python": sys.version.split()[0],
            "database": {**snap.meta, "file": snap.member},
            "migrations": snap.migrations,
            "tables": snap.tables,
            "files": files,
        }
        _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), {})


def write_archive(folder: Path, now: dt.datetime | None = None) -> BackupResult:
    """Take the snapshot and write the archive into ``folder``; nothing is recorded."""
    started = time.monotonic()
    now = now or timezone.now()
    private_dir(folder)
    if not os.access(folder, os.W_OK):
        raise BackupError(f"cannot write to the backup folder {folder}")
    final = _archive_name(folder, now)
    partial = folder / f".{final.name}.partial"
    workdir = Path(tempfile.mkdtemp(prefix=".backup-", dir=folder))
    try:
        snap = snapshot(workdir)
        files: dict[str, dict] = {}
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            _write_members(raw, snap, files, skip=[folder], created_at=now)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return BackupResult(
        archive=final,
        bytes=final.stat().st_size,
        sha256=sha256_of(final),
        tables=snap.tables,
        created_at=now,
        files=len(files),
        seconds=time.monotonic() - started,
    )


def take(
    folder: Path | None = None,
    *,
    trigger: str = "command",
    prune: bool = False,
    now: dt.datetime | None = None,
) -> BackupResult:
    """Write an archive, record it (a failed one too) and audit it; with ``prune``, apply
    the retention (FUNNELWATCH_BACKUP_KEEP_DAILY / _WEEKLY) to the folder afterwards."""
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.audit.trail import acting_as, record
    from funnelwatch.ops.models import Backup

    folder = Path(folder) if folder else backup_dir()
    started_at = timezone.now()
    try:
        result = write_archive(folder, now=now)
    except Exception as exc:
        Backup.objects.create(
            started_at=started_at,
            finished_at=timezone.now(),
            trigger=trigger,
            archive=str(folder),
            error=f"{type(exc).__name__}: {exc}"[:5000],
        )
        raise
    source = "scheduled backup" if trigger == "schedule" else "funnelwatch backup"
    with acting_as(None, name=source):
        row = Backup.objects.create(
            started_at=started_at,
            finished_at=timezone.now(),
            trigger=trigger,
            archive=str(result.archive),
            bytes=result.bytes,
            sha256=result.sha256,
            tables=result.tables,
        )
        record(
            row,
            AuditEvent.Action.EXPORT,
            {
                "archive": result.archive.name,
                "bytes": result.bytes,
                "sha256": result.sha256,
                "rows": sum(result.tables.values()),
            },
        )
    if prune:
        result.deleted = [p.name for p in prune_folder(folder, keep=[result.archive])]
    return result


# --- retention -------------------------------------------------------------------------------


def archives(folder: Path) -> list[tuple[dt.datetime, Path]]:
    """The backup archives in ``folder``, newest first."""
    found = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match and path.is_file():
            at = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            found.append((at, int(match.group(2) or 1), path))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(at, path) for at, _n, path in found]


def to_keep(found: list[tuple[dt.datetime, Path]], keep_daily: int, keep_weekly: int) -> set[Path]:
    """The newest archive of each of the last ``keep_daily`` days that have one, and the
    newest of each of the last ``keep_weekly`` weeks (local time) that have one."""
    tz = timezone.get_current_timezone()
    keep: set[Path] = set()
    days: set[dt.date] = set()
    weeks: set[tuple[int, int]] = set()
    for at, path in found:  # newest first
        local = at.astimezone(tz).date()
        if local not in days and len(days) < keep_daily:
            days.add(local)
            keep.add(path)
        week = local.isocalendar()[:2]
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            keep.add(path)
    return keep


def prune_folder(
    folder: Path,
    keep: list[Path] | None = None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
) -> list[Path]:
    """Delete the archives the retention does not keep; return them. Only files named like
    backup archives are ever touched (and half-written ones a day old)."""
    keep_daily = (
        max(settings.FUNNELWATCH_BACKUP_KEEP_DAILY, 1) if keep_daily is None else keep_daily
    )
    keep_weekly = (
        max(settings.FUNNELWATCH_BACKUP_KEEP_WEEKLY, 0) if keep_weekly is None else keep_weekly
    )
    found = archives(folder)
    kept = to_keep(found, keep_daily, keep_weekly) | {Path(p) for p in keep or []}
    deleted = []
    for _at, path in found:
        if path not in kept:
            path.unlink(missing_ok=True)
            deleted.append(path)
    day_ago = time.time() - 86400
    for path in folder.glob(".funnelwatch-*.partial"):
        if path.stat().st_mtime < day_ago:
            path.unlink(missing_ok=True)
    return deleted


def backup_dir() -> Path:
    """Where ``funnelwatch backup`` and the daily backup write their archives."""
    configured = settings.FUNNELWATCH_BACKUP_DIR
    return Path(configured).resolve() if configured else settings.DATA_DIR / "backups"


def backup_daily_at() -> dt.time | None:
    """Local time of the daily backup (``FUNNELWATCH_BACKUP_DAILY_AT``, ``HH:MM``); None:
    no scheduled backups."""
    raw = (settings.FUNNELWATCH_BACKUP_DAILY_AT or "").strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"FUNNELWATCH_BACKUP_DAILY_AT must be HH:MM (00:00-23:59), got {raw!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))
