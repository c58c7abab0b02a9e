"""The database's own refusal to change or remove audit rows, whatever the client.

SQLite: BEFORE UPDATE and BEFORE DELETE triggers abort. ``INSERT OR REPLACE`` removes
the row it collides with without firing delete triggers (unless the connection turned
``recursive_triggers`` on), so a BEFORE INSERT trigger refuses an insert whose id is
taken. PostgreSQL: BEFORE UPDATE and BEFORE DELETE row triggers and a BEFORE TRUNCATE
statement trigger raise; in production the application's role also lacks DELETE and
TRUNCATE on the table (README, Production), and only the table's owner may drop these
triggers.

:func:`install` is idempotent and runs from the migrations and after every ``migrate``
(a migration that rebuilds the table on SQLite drops its triggers). :func:`lift` is for
``flush`` alone, which empties every table, this one included (tests, ``demo --reset``).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from funnelwatch.audit.chain import HEAD_FUNCTION

TABLE = "audit_auditevent"
REFUSAL = "audit events are append-only"

SQLITE = {
    "audit_event_no_update": f"""
        CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
    "audit_event_no_delete": f"""
        CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
    "audit_event_no_replace": f"""
        CREATE TRIGGER IF NOT EXISTS audit_event_no_replace BEFORE INSERT ON {TABLE}
        WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
}

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_event_refuse() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '{REFUSAL}'; END; $$ LANGUAGE plpgsql;
"""
POSTGRES = {
    # Created by migration 0002 with its own function; kept as it is.
    "audit_event_no_update": f"""
        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()""",
    "audit_event_no_delete": f"""
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()""",
    "audit_event_no_truncate": f"""
        CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse()""",
}
# What flush must lift to empty the table.
LIFTED = ("audit_event_no_delete", "audit_event_no_truncate")


def _present(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
            )
        else:
            cur.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
                "AND NOT tgisinternal",
                [TABLE],
            )
        return {row[0] for row in cur.fetchall()}


def _has_function(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_proc WHERE proname = %s", [name])
        return cur.fetchone() is not None


def install(connection: BaseDatabaseWrapper, names: tuple[str, ...] | None = None) -> None:
    """Create whatever guard is missing, or those of ``names`` (nothing is written when all
    are there, so the application's role may run ``migrate`` with nothing to apply)."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    missing = {
        name: sql
        for name, sql in (SQLITE if connection.vendor == "sqlite" else POSTGRES).items()
        if name not in _present(connection) and (names is None or name in names)
    }
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            if missing:
                cur.execute(POSTGRES_FUNCTION)
            if names is None and not _has_function(connection, "audit_chain_head"):
                cur.execute(HEAD_FUNCTION)
        for sql in missing.values():
            cur.execute(sql)


def lift(connection: BaseDatabaseWrapper, names: tuple[str, ...] = LIFTED) -> None:
    """Drop the named guards (the table owner's privilege on PostgreSQL)."""
    with connection.cursor() as cur:
        for name in names:
            if connection.vendor == "sqlite":
                cur.execute(f"DROP TRIGGER IF EXISTS {name}")
            elif connection.vendor == "postgresql":
                cur.execute(f"DROP TRIGGER IF EXISTS {name} ON {TABLE}")


def table_is_chained(connection: BaseDatabaseWrapper) -> bool:
    """The audit table exists with its chain columns (migration 0003 or later applied)."""
    with connection.cursor() as cur:
        if TABLE not in connection.introspection.table_names(cur):
            return False
        columns = connection.introspection.get_table_description(cur, TABLE)
    return any(c.name == "hash" for c in columns)
