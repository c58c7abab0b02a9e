"""Running the command line against another data folder or database, as an operator would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.db import connection


def pg_url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def source_env() -> dict[str, str]:
    """The environment of a process using the test database (PostgreSQL only)."""
    env = dict(os.environ)
    env["DATABASE_URL"] = pg_url(connection.settings_dict["NAME"])
    env["DJANGO_SETTINGS_MODULE"] = "funnelwatch.settings"
    return env


def _admin(sql: str) -> None:
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(sql)


class Targets:
    """Fresh, empty places to restore into: a data folder (SQLite) or a new database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.databases: list[str] = []

    def new(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FUNNELWATCH_MEDIA_DIR", None)
        env["DJANGO_SETTINGS_MODULE"] = "funnelwatch.settings"
        env["FUNNELWATCH_DATA_DIR"] = str(self.tmp_path / name)
        if connection.vendor == "postgresql":
            database = f"{connection.settings_dict['NAME']}_{name}"[:63]
            _admin(f'DROP DATABASE IF EXISTS "{database}"')
            _admin(f'CREATE DATABASE "{database}"')
            self.databases.append(database)
            env["DATABASE_URL"] = pg_url(database)
        else:
            env.pop("DATABASE_URL", None)
        return env

    def close(self) -> None:
        for database in self.databases:
            _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def cli(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "funnelwatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rows_in(env: dict[str, str]) -> dict[str, int]:
    """Rows per table of the database ``env`` names, read without the product's code."""
    if env.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as db:
            names = [
                r[0]
                for r in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            ]
            return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    path = Path(env["FUNNELWATCH_DATA_DIR"]) / "funnelwatch.sqlite3"
    db = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        db.close()


def query(env: dict[str, str], sql: str) -> list[tuple]:
    """Rows of ``sql`` in the database ``env`` names (placeholders not supported)."""
    if env.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    db = sqlite3.connect(Path(env["FUNNELWATCH_DATA_DIR"]) / "funnelwatch.sqlite3")
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
