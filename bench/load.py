"""Bulk loading for the benchmark generator: COPY on PostgreSQL, executemany on SQLite.

Rows are written straight into the tables the models map to, without model instances
or signals; column names come from the models' own metadata so a renamed field breaks
loudly here instead of silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, models


def columns(model: type[models.Model], names: Sequence[str]) -> list[str]:
    """Database column names for ``names`` (field names or attnames) of ``model``."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [(by_attname.get(name) or model._meta.get_field(name)).column for name in names]


def insert(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence], batch: int = 50_000
) -> int:
    """Insert ``rows`` (tuples in the order of ``names``) into ``model``'s table."""
    table = model._meta.db_table
    cols = [f'"{c}"' for c in columns(model, names)]  # some are SQL words ("references")
    count = 0
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            sql = f'COPY "{table}" ({", ".join(cols)}) FROM STDIN'
            raw = cur.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join(["%s"] * len(cols))})'
        chunk: list = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                cur.executemany(sql, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            cur.executemany(sql, chunk)
            count += len(chunk)
    return count


def reset_sequences(*model_list: type[models.Model]) -> None:
    """After inserting explicit ids on PostgreSQL, move the id sequences past them."""
    if connection.vendor != "postgresql":
        return
    from django.core.management.color import no_style

    with connection.cursor() as cur:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(model_list)):
            cur.execute(sql)


# Tables the generator fills in bulk; their secondary indexes are built once at the end.
BULK_TABLE_PREFIXES = ("crm_", "audit_", "telephony_", "mail_", "quality_")


@contextmanager
def bulk_load() -> Iterator[None]:
    """Load without per-row index and foreign-key upkeep, as database loaders do: the
    secondary (non-unique) indexes of the bulk tables are dropped and built again at the
    end, and foreign keys are not checked row by row (the generator assigns every id
    itself). Unique indexes stay, so a duplicate still fails."""
    saved = _drop_secondary_indexes()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = replica")  # no FK triggers
        else:
            cur.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("SET session_replication_role = DEFAULT")
                cur.execute("SET maintenance_work_mem = '1GB'")
            else:
                cur.execute("PRAGMA foreign_keys = ON")
            for sql in saved:
                cur.execute(sql)


def _drop_secondary_indexes() -> list[str]:
    like = " OR ".join(["tablename LIKE %s"] * len(BULK_TABLE_PREFIXES))
    params = [f"{p}%" for p in BULK_TABLE_PREFIXES]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                f"AND ({like}) AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
                params,
            )
        else:
            cur.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND ({like.replace('tablename', 'tbl_name')}) AND sql NOT LIKE 'CREATE UNIQUE%%'",
                params,
            )
        found = cur.fetchall()
        for name, _sql in found:
            cur.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]
