"""Upgrades are announced: a migration added since the last release that rewrites a large
table — changes its rows (RunPython, RunSQL) or its columns or constraints (on SQLite that
copies the whole table) — is named in CHANGELOG.md's *Unreleased* section, so whoever
upgrades knows to plan for it (funnelwatch/lib/batches.py says how to write it in slices).
The last release's migrations come from its database in tests/fixtures."""

from __future__ import annotations

import gzip
import io
import sqlite3
from pathlib import Path

from django.core.management import call_command
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader

from funnelwatch.lib.batches import in_batches

ROOT = Path(__file__).resolve().parents[1]
RELEASES = sorted((ROOT / "tests" / "fixtures").glob("release-*.sqlite3.gz"))
LARGE = {
    "telephony": {"call", "callleg", "webhookevent"},
    "crm": {"deal", "stagechange", "ownerchange"},
    "audit": {"auditevent"},
    "mail": {"message", "messagecopy"},
    "metrics": {"dailyvalue", "dailysample", "weeklyvalue", "weeklysample"},
}
REWRITES = (
    migrations.AddField,
    migrations.AlterField,
    migrations.RemoveField,
    migrations.RenameField,
    migrations.AddConstraint,
    migrations.RemoveConstraint,
)


def released() -> set[tuple[str, str]]:
    latest = RELEASES[-1]  # names sort by version while they have one digit a part
    db = sqlite3.connect(":memory:")
    db.deserialize(gzip.decompress(latest.read_bytes()))
    return set(db.execute("SELECT app, name FROM django_migrations").fetchall())


def rewrites_a_large_table(app: str, migration: migrations.Migration) -> bool:
    for op in migration.operations:
        if isinstance(op, migrations.RunPython | migrations.RunSQL):
            return True
        if isinstance(op, REWRITES) and op.model_name.lower() in LARGE.get(app, set()):
            return _touches(app, migration.name, f"{app}_{op.model_name.lower()}")
    return False


def _touches(app: str, name: str, table: str) -> bool:
    """Whether the migration's SQL changes ``table`` (a change of choices or help text is
    no SQL at all)."""
    if (app, name) not in MigrationLoader(None, ignore_no_migrations=True).disk_migrations:
        return True  # not on disk (the self-test's examples): assume it does
    out = io.StringIO()
    call_command("sqlmigrate", app, name, stdout=out)
    return any(
        table in line and not line.lstrip().startswith("--") for line in out.getvalue().splitlines()
    )


def unreleased_notes() -> str:
    text = (ROOT / "CHANGELOG.md").read_text()
    start = text.index("## Unreleased")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_migrations_that_rewrite_large_tables_are_in_the_release_notes(transactional_db):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    done = released()
    notes = unreleased_notes()
    missing = sorted(
        f"{app}.{name}"
        for (app, name), migration in loader.disk_migrations.items()
        if app in LARGE
        and (app, name) not in done
        and rewrites_a_large_table(app, migration)
        and f"{app}.{name}" not in notes
    )
    assert not missing, (
        "migrations since the last release that rewrite a large table, not named in "
        f"CHANGELOG.md's Unreleased section (say what they do and how long to expect): {missing}"
    )


def test_the_check_sees_a_rewrite():
    """The check above would catch one: a data migration, and a new column on calls."""
    data = migrations.Migration("0099_fill", "crm")
    data.operations = [migrations.RunPython(migrations.RunPython.noop)]
    column = migrations.Migration("0099_col", "telephony")
    column.operations = [migrations.AddField("call", "note", models.TextField())]
    index = migrations.Migration("0099_idx", "telephony")
    index.operations = []
    assert rewrites_a_large_table("crm", data) and rewrites_a_large_table("telephony", column)
    assert not rewrites_a_large_table("telephony", index)


def test_batches_cover_every_row_once(db, world):
    from funnelwatch.crm.models import LeadSource

    LeadSource.objects.bulk_create([LeadSource(name=f"s{n}") for n in range(23)])
    LeadSource.objects.filter(name__in=["s3", "s4", "s17"]).delete()  # gaps in the keys
    seen = []
    for batch in in_batches(LeadSource.objects.all(), size=5):
        rows = list(batch.values_list("pk", flat=True))
        assert 0 < len(rows) <= 5
        seen += rows
    assert sorted(seen) == sorted(LeadSource.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))
