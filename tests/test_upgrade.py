"""Upgrading keeps the data: a database made by an earlier release (its own migrations and a
small demo department, tests/fixtures/release-*.sqlite3.gz, built by
scripts/release-fixture.sh) goes through today's migrations, and its records and numbers
are what they were — every table's rows, the deals' amounts, the audit trail, the stored
rollups — and today's code reads the same key numbers from them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from decimal import Decimal
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RELEASES = sorted(FIXTURES.glob("release-*.sqlite3.gz"))
# Tables that grow with every new model or migration (not data).
BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission"}


def _sums(db: sqlite3.Connection) -> dict[str, Decimal]:
    """Each metric's daily rollup values added up exactly (SQLite's SUM adds floats)."""
    sums: dict[str, Decimal] = {}
    for metric, value in db.execute("SELECT metric, CAST(value AS TEXT) FROM metrics_dailyvalue"):
        sums[metric] = sums.get(metric, Decimal(0)) + Decimal(value)
    return sums


def _read(path: Path) -> dict:
    db = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        audit = hashlib.sha256()
        # Since the hash chain, ``at`` is the trail's own (never decreasing) time and the time
        # a change took effect, which the audit rows of older releases held in ``at``, is
        # ``occurred_at``: compare that.
        columns = {r[1] for r in db.execute("PRAGMA table_info(audit_auditevent)")}
        when = "occurred_at" if "occurred_at" in columns else "at"
        for row in db.execute(
            f"SELECT id, {when}, actor_id, action, object_type, object_id, changes "
            "FROM audit_auditevent ORDER BY id"
        ):
            audit.update(repr(row).encode())
        return {
            "rows": {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names},
            "deals": db.execute(
                "SELECT id, title, amount, status, stage_id, owner_id, created_at, closed_at "
                "FROM crm_deal ORDER BY id"
            ).fetchall(),
            "audit": audit.hexdigest(),
            "rollups": {
                table: db.execute(
                    f"SELECT metric, COUNT(*), SUM(value), SUM(weight) FROM {table} "
                    "GROUP BY metric ORDER BY metric"
                ).fetchall()
                for table in ("metrics_dailyvalue", "metrics_weeklyvalue")
            },
            "samples": db.execute(
                "SELECT metric, SUM(count), SUM(value * count) FROM metrics_dailysample "
                "GROUP BY metric ORDER BY metric"
            ).fetchall(),
            "span": db.execute("SELECT MIN(day), MAX(day) FROM metrics_dailyvalue").fetchone(),
            "daily": _sums(db),
        }
    finally:
        db.close()


def _cli(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "funnelwatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"funnelwatch {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("fixture", RELEASES, ids=[p.name.split(".sqlite3")[0] for p in RELEASES])
def test_an_earlier_release_upgrades_with_its_data_unchanged(fixture, tmp_path):
    from funnelwatch.metrics import registry

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    database = data / "funnelwatch.sqlite3"
    database.write_bytes(gzip.decompress(fixture.read_bytes()))
    before = _read(database)
    assert before["rows"]["crm_deal"] and before["rows"]["audit_auditevent"]
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FUNNELWATCH_MEDIA_DIR")
    }
    env.update(FUNNELWATCH_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="funnelwatch.settings")

    plan = _cli(env, "migrate", "--plan")
    assert "No planned migration operations" not in plan  # the release is older than today
    _cli(env, "migrate", "--no-input")
    assert "No planned migration operations" in _cli(env, "migrate", "--plan")

    after = _read(database)
    for table, rows in before["rows"].items():
        if table in BOOKKEEPING:
            assert after["rows"][table] >= rows, table
        else:
            assert after["rows"].get(table) == rows, (
                f"{table}: {rows} rows before, {after['rows'].get(table)} after"
            )
    assert after["deals"] == before["deals"]
    assert after["audit"] == before["audit"]
    assert after["rollups"] == before["rollups"] and after["samples"] == before["samples"]

    # Today's code reads the same records and numbers.
    probe = json.loads(
        _cli(
            env,
            "shell",
            "-v",
            "0",
            "-c",
            "import json; from funnelwatch.crm.models import Deal; "
            "from funnelwatch.audit.models import AuditEvent; "
            "print(json.dumps({'amounts': [[d.pk, str(d.amount)] for d in "
            "Deal.objects.order_by('pk')], 'audit': AuditEvent.objects.count()}))",
        )
    )
    assert probe["audit"] == before["rows"]["audit_auditevent"]
    assert [(pk, Decimal(a)) for pk, a in probe["amounts"]] == [
        (row[0], Decimal(str(row[2]))) for row in before["deals"]
    ]
    sums = [
        m.key for m in registry.rolled_metrics() if m.kind == "sum" and m.key in before["daily"]
    ]
    assert len(sums) >= 5
    first, last = before["span"]
    end = (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()
    table = json.loads(
        _cli(
            env,
            "metrics",
            "--from",
            first,
            "--to",
            end,
            "--by",
            "none",
            "--metrics",
            ",".join(sums),
        )
    )
    for key in sums:
        shown = Decimal(str(table["totals"][key]))
        # The table shows money and minutes to the cent: equal to that precision.
        assert abs(shown - before["daily"][key]) <= Decimal("0.005"), (key, shown)


def test_a_backup_of_an_earlier_release_restores_and_is_migrated(tmp_path):
    """A backup made before an upgrade, restored into today's version: its migrations are
    applied after the restore, and the rows are those of the backup."""
    latest = RELEASES[-1]
    source = tmp_path / "release.sqlite3"
    source.write_bytes(gzip.decompress(latest.read_bytes()))
    before = _read(source)
    db = sqlite3.connect(source)
    applied: dict[str, list[str]] = {}
    for app, name in db.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
        applied.setdefault(app, []).append(name)
    db.close()
    keys = {"keys/secret_key": b"k" * 50 + b"\n", "keys/fernet_key": b"f" * 43 + b"=\n"}
    members = {"database/funnelwatch.sqlite3": source.read_bytes(), **keys}
    manifest = {
        "format": 1,
        "product": "funnelwatch",
        "version": latest.name.split("-")[1].split(".sqlite3")[0],
        "created_at": "2026-03-02T10:00:00+08:00",
        "database": {"vendor": "sqlite", "file": "database/funnelwatch.sqlite3"},
        "migrations": applied,
        "tables": before["rows"],
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in members.items()
        },
    }
    archive = tmp_path / "funnelwatch-20260302T020000Z.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [*members.items(), ("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    data = tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FUNNELWATCH_MEDIA_DIR")
    }
    env.update(FUNNELWATCH_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="funnelwatch.settings")
    result = json.loads(_cli(env, "restore", str(archive), "--json"))
    assert result["ok"], result["checks"]
    assert "ops.0001_initial" in result["migrated"]
    assert "No planned migration operations" in _cli(env, "migrate", "--plan")
    after = _read(data / "funnelwatch.sqlite3")
    assert after["deals"] == before["deals"] and after["audit"] == before["audit"]
