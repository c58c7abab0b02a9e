"""The same numbers by DuckDB over Parquet copies of the raw rows: the embedded analytic
engine a user could point at the data instead, our reference for "close to the limit"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection

from funnelwatch.lib.dates import Period, period_bounds


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


TABLES = {
    "stage_changes": "SELECT s.owner_id, st.outcome, {at} AS at, d.amount "
    "FROM crm_stagechange s JOIN crm_stage st ON st.id = s.to_stage_id "
    "JOIN crm_deal d ON d.id = s.deal_id",
    "deals": "SELECT d.id, o.to_owner_id AS owner_id, {created} AS created "
    "FROM crm_deal d JOIN crm_ownerchange o ON o.deal_id = d.id AND o.from_owner_id IS NULL",
    "proposals": "SELECT author_id, amount, {sent} AS sent FROM crm_proposal",
    "tasks": "SELECT assignee_id, {done} AS done FROM crm_task WHERE done_at IS NOT NULL",
    "audit": "SELECT actor_id, {at2} AS at FROM audit_auditevent WHERE source = 'user' "
    "AND actor_id IS NOT NULL",
    "calls": "SELECT manager_id, direction, outcome, talk_seconds, {started} AS started "
    "FROM telephony_call WHERE manager_id IS NOT NULL",
}


def _array(values: list) -> pa.Array:
    """Money as one wide decimal type: inferred from a first batch, the precision would
    be too narrow for a larger amount in a later one."""
    if any(isinstance(v, Decimal) for v in values[:1000]):
        return pa.array(values, type=pa.decimal128(24, 4))
    return pa.array(values)


def export(folder: Path) -> Path:
    """Copy the raw rows the metrics read into Parquet files (one per table)."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = {
        "at": _epoch("s.at"),
        "created": _epoch("d.created_at"),
        "sent": _epoch("sent_at"),
        "done": _epoch("done_at"),
        "at2": _epoch("occurred_at"),
        "started": _epoch("started_at"),
    }
    for name, sql in TABLES.items():
        try:
            with connection.cursor() as cur:
                cur.execute(sql.format(**cols))
                names = [c[0] for c in cur.description]
                batches = []
                while rows := cur.fetchmany(200_000):
                    columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
                    batches.append(pa.table({n: _array(v) for n, v in columns.items()}))
        except Exception:  # the app behind a table is not installed
            continue
        if batches:
            table = pa.concat_tables([b.cast(batches[0].schema) for b in batches])
            pq.write_table(table, folder / f"{name}.parquet")
    return folder


# metric -> (table, manager column, time column, aggregate, extra condition)
SPEC = {
    "leads_received": ("deals", "owner_id", "created", "count(*)", ""),
    "proposals_sent": ("proposals", "author_id", "sent", "count(*)", ""),
    "proposals_amount": ("proposals", "author_id", "sent", "sum(amount)", ""),
    "won_count": ("stage_changes", "owner_id", "at", "count(*)", "outcome = 'won'"),
    "won_amount": ("stage_changes", "owner_id", "at", "sum(amount)", "outcome = 'won'"),
    "lost_count": ("stage_changes", "owner_id", "at", "count(*)", "outcome = 'lost'"),
    "crm_actions": ("audit", "actor_id", "at", "count(*)", ""),
    "tasks_done": ("tasks", "assignee_id", "done", "count(*)", ""),
    "calls_out": ("calls", "manager_id", "started", "count(*)", "direction = 'out'"),
    "calls_in": ("calls", "manager_id", "started", "count(*)", "direction = 'in'"),
    "calls_connected": ("calls", "manager_id", "started", "count(*)", "outcome = 'answered'"),
    "talk_minutes": ("calls", "manager_id", "started", "sum(talk_seconds) / 60.0", ""),
}


def _sql(key: str) -> str:
    table, manager, when, agg, cond = SPEC[key]
    where = f'"{when}" >= $a AND "{when}" < $b' + (f" AND {cond}" if cond else "")
    return f"SELECT {manager}, {agg} FROM {table} WHERE {where} GROUP BY 1"


_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}


def _con(folder: Path) -> duckdb.DuckDBPyConnection:
    key = str(folder)
    if key not in _CONNECTIONS:
        con = duckdb.connect()
        for file in folder.glob("*.parquet"):
            con.execute(f"CREATE VIEW {file.stem} AS SELECT * FROM read_parquet('{file}')")
        _CONNECTIONS[key] = con
    return _CONNECTIONS[key]


def key_numbers(folder: Path, period: Period, keys: list[str]) -> dict:
    """The subset per manager for the period, the previous period and the 4-week baseline."""
    tz = ZoneInfo(settings.TIME_ZONE)
    con = _con(folder)
    windows = {
        "current": period,
        "previous": period.previous(),
        "baseline": Period(period.start - dt.timedelta(days=28), period.start),
    }
    out: dict = {}
    for key in keys:
        for label, window in windows.items():
            a, b = (int(x.timestamp()) for x in period_bounds(window, tz))
            try:
                rows = con.execute(_sql(key), {"a": a, "b": b}).fetchall()
            except duckdb.CatalogException:
                continue  # that table was not exported
            for manager, value in rows:
                out[(key, label, manager)] = value
    return out
