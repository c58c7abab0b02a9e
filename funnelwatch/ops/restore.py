"""``funnelwatch restore ARCHIVE``: bring a backup back into an empty data folder or database.

In order, and nothing is written before the first two steps pass:

1. every member is read into a staging folder while its SHA-256 is taken, and compared with
   the manifest (a missing, extra, altered or unsafe member stops the restore);
2. the target must suit the archive: the same kind of database, no migrations this version
   does not know, and empty — no tables in the database, no files in the media folder —
   unless ``--force``, which parks what it replaces beside it (``…replaced-STAMP``: the
   SQLite file and media folder, or the PostgreSQL schema renamed) instead of deleting it;
3. the database, media and keys are put in place (PostgreSQL: ``pg_restore`` in one
   transaction; a failure puts a parked schema back);
4. the restored rows are counted against the manifest, migrations newer than the backup are
   applied, and the rollups (``funnelwatch rollups verify``) and, where the command exists,
   the audit trail's chain (``funnelwatch audit verify``) are checked.

The product (web, worker, periodic jobs) should be stopped while a restore runs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core import management
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from funnelwatch.lib.env import private_dir
from funnelwatch.ops import pgtools
from funnelwatch.ops.backup import (
    CHUNK,
    FORMAT,
    MANIFEST,
    PARKED_SCHEMA_PREFIX,
    PGDUMP_MEMBER,
    SQLITE_MEMBER,
)

KEY_MEMBERS = ("keys/secret_key", "keys/fernet_key")


class RestoreError(Exception):
    """The restore was refused or failed; the message says why and what to do."""


@dataclass
class RestoreResult:
    archive: str
    vendor: str = ""
    version: str = ""
    created_at: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    media_files: int = 0
    migrated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict:
        return {
            "archive": self.archive,
            "database": self.vendor,
            "backup_version": self.version,
            "backup_created_at": self.created_at,
            "tables": self.tables,
            "media_files": self.media_files,
            "migrated": self.migrated,
            "replaced": self.replaced,
            "warnings": self.warnings,
            "checks": self.checks,
            "ok": self.ok,
        }


# --- reading and checking the archive -----------------------------------------------------------


def _safe_name(name: str) -> bool:
    if name in (MANIFEST, SQLITE_MEMBER, PGDUMP_MEMBER, *KEY_MEMBERS):
        return True
    if not name.startswith("media/") or "\\" in name or "\0" in name:
        return False
    normal = posixpath.normpath(name)
    return normal == name and not normal.startswith("/") and ".." not in normal.split("/")


@dataclass
class Staged:
    folder: Path
    manifest: dict
    hashes: dict[str, tuple[str, int]]
    keys: dict[str, str]

    @property
    def database_file(self) -> Path:
        return self.folder / self.manifest["database"]["file"]

    @property
    def media(self) -> Path:
        return self.folder / "media"


def stage(archive: Path, folder: Path) -> Staged:
    """Unpack ``archive`` into ``folder`` while hashing, then check it against its manifest."""
    if not archive.is_file():
        raise RestoreError(f"{archive}: no such file")
    hashes: dict[str, tuple[str, int]] = {}
    keys: dict[str, str] = {}
    manifest_raw: bytes | None = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isreg() or not _safe_name(name):
                    raise RestoreError(
                        f"{archive}: unexpected member {name!r}; this is not a Funnelwatch "
                        "backup, or it was altered"
                    )
                if name in hashes or (name == MANIFEST and manifest_raw is not None):
                    raise RestoreError(f"{archive}: member {name!r} appears twice")
                source = tar.extractfile(member)
                if name == MANIFEST or name in KEY_MEMBERS:
                    data = source.read()
                    if name == MANIFEST:
                        manifest_raw = data
                        continue
                    keys[name] = data.decode("utf-8", "replace").strip()
                    hashes[name] = (hashlib.sha256(data).hexdigest(), len(data))
                    continue
                target = folder / name
                private_dir(target.parent)
                digest, size = hashlib.sha256(), 0
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                hashes[name] = (digest.hexdigest(), size)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise RestoreError(
            f"{archive}: not a readable backup archive ({type(exc).__name__}: {exc}); "
            "it may be truncated or damaged"
        ) from None
    if manifest_raw is None:
        raise RestoreError(f"{archive}: no {MANIFEST}; this is not a Funnelwatch backup")
    try:
        manifest = json.loads(manifest_raw)
        listed = manifest["files"]
        database = manifest["database"]
        if not isinstance(listed, dict) or database["file"] not in listed:
            raise KeyError("files")
    except (ValueError, KeyError, TypeError) as exc:
        raise RestoreError(f"{archive}: {MANIFEST} is not a backup manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise RestoreError(
            f"{archive}: backup format {manifest.get('format')!r}; this version reads "
            f"format {FORMAT}"
        )
    missing = sorted(set(listed) - set(hashes))
    if missing:
        raise RestoreError(
            f"{archive}: {len(missing)} member(s) listed in the manifest are missing, "
            f"first {missing[0]!r}"
        )
    extra = sorted(set(hashes) - set(listed))
    if extra:
        raise RestoreError(f"{archive}: member {extra[0]!r} is not in the manifest")
    for name in sorted(listed):
        expected = (listed[name].get("sha256"), listed[name].get("bytes"))
        if hashes[name] != expected:
            raise RestoreError(
                f"{archive}: checksum mismatch for {name!r} (the manifest says "
                f"{expected[1]} bytes, SHA-256 {expected[0]}; the archive holds "
                f"{hashes[name][1]} bytes, SHA-256 {hashes[name][0]}): the archive is damaged"
            )
    return Staged(folder, manifest, hashes, keys)


# --- the target -----------------------------------------------------------------------------


def _sqlite_path() -> Path:
    return Path(settings.DATABASES["default"]["NAME"])


def _sqlite_tables(path: Path) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    finally:
        db.close()


def _pg_schema() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_schema()")
        return cur.fetchone()[0]


def database_tables() -> list[str]:
    """The product's tables in the database the settings name (SQLite's own excluded)."""
    with connection.cursor() as cur:
        names = connection.introspection.table_names(cur)
    return sorted(n for n in names if not n.startswith("sqlite_"))


def media_count(root: Path) -> int:
    if not root.is_dir():
        return 0
    return sum(len(files) for _folder, _dirs, files in os.walk(root))


def count_rows() -> dict[str, int]:
    tables = sorted(database_tables())
    counts = {}
    with connection.cursor() as cur:
        for name in tables:
            cur.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}")
            counts[name] = cur.fetchone()[0]
    return counts


def _unknown_migrations(applied: dict[str, list[str]]) -> list[str]:
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return sorted(
        f"{app}.{name}"
        for app, names in applied.items()
        for name in names
        if (app, name) not in known
    )


# --- putting things in place -------------------------------------------------------------------


def _park_sqlite(path: Path, stamp: str) -> Path:
    """Keep the replaced database beside the new one, WAL included (SQLite's backup API)."""
    parked = path.with_name(f"{path.name}.replaced-{stamp}")
    source = sqlite3.connect(path)
    copy = sqlite3.connect(parked)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()
    os.chmod(parked, 0o600)
    return parked


def _place_sqlite(staged: Staged, force: bool, stamp: str, result: RestoreResult) -> None:
    path = _sqlite_path()
    connections.close_all()
    if _sqlite_tables(path):
        result.replaced.append(str(_park_sqlite(path, stamp)))
    private_dir(path.parent)
    for suffix in ("-wal", "-shm", "-journal"):
        # Left beside the new file they would be read as its own: remove them first.
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    moved = path.with_name(f".{path.name}.restoring")
    shutil.copyfile(staged.database_file, moved)
    os.chmod(moved, 0o600)
    os.replace(moved, path)


def _place_postgres(staged: Staged, force: bool, stamp: str, result: RestoreResult) -> None:
    database = staged.manifest["database"]
    server = pgtools.server_major(connection)
    need = max(server, int(database.get("pg_dump_major") or 0))
    try:
        pg_restore, _major = pgtools.client_for("pg_restore", need)
    except pgtools.ClientMissing as exc:
        raise RestoreError(str(exc)) from None
    schema = _pg_schema()
    quote = connection.ops.quote_name
    parked = None
    if database_tables():
        parked = f"{PARKED_SCHEMA_PREFIX}{stamp.lower()}"
        with connection.cursor() as cur:
            cur.execute(f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(parked)}")
            cur.execute(f"CREATE SCHEMA {quote(schema)}")
    connections.close_all()
    args, env = pgtools.connection_env(connection.settings_dict)
    done = subprocess.run(
        [
            pg_restore,
            *args,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            connection.settings_dict["NAME"],
            str(staged.database_file),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if parked:
            with connection.cursor() as cur:
                cur.execute(f"DROP SCHEMA {quote(schema)} CASCADE")
                cur.execute(f"ALTER SCHEMA {quote(parked)} RENAME TO {quote(schema)}")
            connections.close_all()
        raise RestoreError(
            f"pg_restore failed (exit {done.returncode}); the database is as it was: "
            f"{done.stderr.strip()[-2000:]}"
        )
    if parked:
        result.replaced.append(f"schema {parked}")


def _private_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)


def _place_media(staged: Staged, stamp: str, result: RestoreResult) -> None:
    root = Path(settings.MEDIA_ROOT)
    private_dir(root)
    if media_count(root):
        parked = root.with_name(f"{root.name}.replaced-{stamp}")
        private_dir(parked)
        for child in sorted(root.iterdir()):
            shutil.move(str(child), str(parked / child.name))
        result.replaced.append(str(parked))
    else:
        for child in list(root.iterdir()):  # empty folders only
            shutil.rmtree(child)
    if staged.media.is_dir():
        for child in sorted(staged.media.iterdir()):
            shutil.move(str(child), str(root / child.name))
    _private_tree(root)
    result.media_files = media_count(root)


def _place_keys(staged: Staged, force: bool, stamp: str, result: RestoreResult) -> None:
    data_dir = Path(settings.DATA_DIR)
    private_dir(data_dir)
    for member, filename, env_name, why in (
        (
            "keys/secret_key",
            "secret_key",
            "SECRET_KEY",
            "signed-in sessions and password-reset links of the backup no longer work",
        ),
        (
            "keys/fernet_key",
            "fernet_key",
            "FUNNELWATCH_FERNET_KEY",
            "mailbox passwords cannot be read until it is set to the backup's key "
            "(keys/fernet_key in the archive) or the passwords are entered again",
        ),
    ):
        value = staged.keys.get(member, "")
        if not value:
            continue
        path = data_dir / filename
        if path.exists() and path.read_text().strip() != value and force:
            parked = path.with_name(f"{filename}.replaced-{stamp}")
            os.replace(path, parked)
            result.replaced.append(str(parked))
        tmp = path.with_name(f".{filename}.restoring")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        os.replace(tmp, path)
        from_env = os.environ.get(f"{env_name}_FILE") or os.environ.get(env_name)
        if from_env:
            current = (
                Path(os.environ[f"{env_name}_FILE"]).read_text().strip()
                if os.environ.get(f"{env_name}_FILE")
                else os.environ[env_name]
            )
            if current != value:
                result.warnings.append(
                    f"{env_name} in the environment differs from the backup's, and the "
                    f"environment wins: {why}"
                )


# --- checks after the restore --------------------------------------------------------------------


def _run_check(*args: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    try:
        management.call_command(*args, stdout=out, stderr=err)
    except (CommandError, SystemExit) as exc:
        detail = (out.getvalue() + err.getvalue()).strip().splitlines()[-5:]
        return {"ok": False, "detail": "\n".join([*detail, str(exc)]).strip()}
    return {
        "ok": True,
        "detail": out.getvalue().strip().splitlines()[-1:][0] if out.getvalue().strip() else "ok",
    }


def repair_rollups() -> int:
    """Rebuild the rollup rows that differ from the records; return how many differed.

    Rollups are refreshed right after each write commits, in a transaction of their own: a
    snapshot taken between the two holds the write without its refresh (and so does a
    database whose process stopped there). The records are the truth and the rollups are
    recomputed from them, for the managers and days that differ only."""
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine
    from funnelwatch.metrics.management.commands.rollups import data_period

    diffs = engine.verify(data_period())
    if not diffs:
        return 0
    days: set[dt.date] = set()
    for diff in diffs:
        if "(week" in diff.metric:  # a week's row: its Monday
            days.update(diff.day + dt.timedelta(days=n) for n in range(7))
        else:
            days.add(diff.day)
    managers = {diff.manager_id for diff in diffs}
    engine.rebuild(Period(min(days), max(days) + dt.timedelta(days=1)), managers)
    return len(diffs)


def verify_restored() -> dict[str, dict]:
    repaired = repair_rollups()
    checks = {"rollups": _run_check("rollups", "verify")}
    if repaired:
        checks["rollups"]["repaired"] = repaired
        checks["rollups"]["detail"] += (
            f" (after rebuilding {repaired} rollup rows that were behind the records at the "
            "moment of the backup)"
        )
    # The audit trail's own check, where this version has it.
    if "audit" in management.get_commands():
        checks["audit"] = _run_check("audit", "verify")
    return checks


# --- the whole restore ----------------------------------------------------------------------------


def restore(archive: Path | str, *, force: bool = False, verify: bool = True) -> RestoreResult:
    archive = Path(archive).resolve()
    result = RestoreResult(archive=str(archive))
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    data_dir = Path(settings.DATA_DIR)
    private_dir(data_dir)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    try:
        staged = stage(archive, staging)
        manifest = staged.manifest
        database = manifest["database"]
        result.vendor = database.get("vendor", "")
        result.version = str(manifest.get("version", ""))
        result.created_at = str(manifest.get("created_at", ""))
        if result.vendor != connection.vendor:
            raise RestoreError(
                f"the backup holds a {result.vendor} database and this installation uses "
                f"{connection.vendor} (DATABASE_URL): restore it into the same kind of database"
            )
        unknown = _unknown_migrations(manifest.get("migrations") or {})
        if unknown:
            raise RestoreError(
                f"the backup was made by Funnelwatch {result.version}, whose database has "
                f"migrations this version does not know ({', '.join(unknown[:5])}): install "
                f"Funnelwatch {result.version} or newer to restore it"
            )
        tables = database_tables()
        files = media_count(Path(settings.MEDIA_ROOT))
        if (tables or files) and not force:
            where = []
            if tables:
                where.append(f"the database has {len(tables)} tables")
            if files:
                where.append(f"{settings.MEDIA_ROOT} holds {files} files")
            raise RestoreError(
                f"the target is not empty ({'; '.join(where)}): restore into an empty data "
                "folder or database, or add --force to replace it (what is replaced is kept "
                "beside it)"
            )
        if connection.vendor == "sqlite":
            _place_sqlite(staged, force, stamp, result)
        else:
            _place_postgres(staged, force, stamp, result)
        _place_media(staged, stamp, result)
        _place_keys(staged, force, stamp, result)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    connections.close_all()
    result.tables = count_rows()
    expected = manifest.get("tables") or {}
    differ = sorted(
        name
        for name in set(expected) | set(result.tables)
        if expected.get(name) != result.tables.get(name)
    )
    result.checks["rows"] = {
        "ok": not differ,
        "detail": "every table has the rows the manifest lists"
        if not differ
        else f"{len(differ)} tables differ from the manifest, first {differ[0]}: "
        f"{expected.get(differ[0])} listed, {result.tables.get(differ[0])} restored",
    }
    from django.db.migrations.executor import MigrationExecutor

    plan = MigrationExecutor(connection).migration_plan(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )
    if plan:
        result.migrated = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
        management.call_command("migrate", interactive=False, verbosity=0)
    if verify:
        result.checks.update(verify_restored())
    return result
