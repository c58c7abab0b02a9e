"""Plain ``executemany`` inserts and updates for big imports.

``bulk_create`` compiles every value through the ORM (several microseconds a field),
which alone caps an import far below 50,000 rows/s. These helpers adapt values once per
column with the backend's own adapters and hand whole batches to the driver. They are
used only for append-only rows the telephony app owns (calls, legs, their audit events).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import connection, models

Adapter = Callable[[object], object]


def _sqlite_datetime(value: dt.datetime) -> str:
    # What Django's SQLite adapter writes (UTC, naive, str()), without its checks.
    if value.tzinfo is dt.UTC:  # what the parsers produce: drop the "+00:00"
        return value.isoformat(" ")[:-6]
    offset = value.utcoffset()
    return str((value - offset).replace(tzinfo=None) if offset else value.replace(tzinfo=None))


def _json(value: object) -> str:
    if value == {}:
        return "{}"
    if type(value) is list and value:
        # A CDR row. Printable text without backslashes is its own JSON string once its
        # quotes are escaped: most rows are, and skip the encoder.
        try:
            text = "\x00".join(value)
        except TypeError:  # not all strings
            text = "\\"
        if (
            "\\" not in text
            and text.count("\x00") == len(value) - 1
            and text.replace("\x00", "").isprintable()
        ):
            return '["' + text.replace('"', '\\"').replace("\x00", '", "') + '"]'
    return json.dumps(value, ensure_ascii=False)


def _adapter(field: models.Field) -> Adapter | None:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "sqlite" and settings.USE_TZ:
            return _sqlite_datetime
        return ops.adapt_datetimefield_value
    if isinstance(field, models.JSONField):
        if connection.vendor == "sqlite" and field.encoder is None:
            return _json
        return lambda v: ops.adapt_json_value(v, field.encoder)
    return None


def _adapted(rows: list[tuple], adapters: list[tuple[int, Adapter]]) -> list[tuple]:
    """Adapt column by column (transposing is done in C, a Python loop per row is not)."""
    if not adapters:
        return rows
    columns = list(zip(*rows, strict=True))
    for i, adapt in adapters:
        column = columns[i]
        first = column[0]
        if all(v is first for v in column):
            # One object for the whole column (the import's time): adapted once.
            columns[i] = (None if first is None else adapt(first),) * len(column)
        else:
            columns[i] = [None if v is None else adapt(v) for v in column]
    return list(zip(*columns, strict=True))


def insert(
    model: type[models.Model], fields: Sequence[str], rows: list[tuple], batch: int = 5000
) -> None:
    """INSERT ``rows`` (tuples in ``fields`` order, raw Python values) into ``model``.

    On PostgreSQL the rows go through ``COPY`` (psycopg 3), several times faster than
    INSERT for big batches."""
    if not rows:
        return
    meta = model._meta
    cols = [meta.get_field(f) for f in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(f.column) for f in cols)
    if connection.vendor == "postgresql" and _copy(table, names, cols, rows):
        return
    adapters = [(i, a) for i, f in enumerate(cols) if (a := _adapter(f)) is not None]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(table, names, ", ".join(["%s"] * len(cols)))
    rows = _adapted(rows, adapters)
    with connection.cursor() as cur:
        for i in range(0, len(rows), batch):
            cur.executemany(sql, rows[i : i + batch])


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys, ascending, for rows this transaction inserts next with
    :func:`insert` (the keys given): callers know the keys of new rows without reading
    them back, and can write rows that point at each other in one go.

    PostgreSQL: taken from the table's sequence. SQLite: the transaction takes the
    database's write lock first (one writer at a time), so the keys after the largest
    used (AUTOINCREMENT never reuses one) stay free until it inserts them."""
    if not connection.in_atomic_block:
        raise RuntimeError("reserve keys inside the transaction that inserts the rows")
    if count <= 0:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    table, pk = meta.db_table, meta.pk.column
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            return sorted(r[0] for r in cur.fetchall())
        if connection.vendor != "sqlite":
            raise NotImplementedError(connection.vendor)
        # A write that changes nothing takes the lock (a no-op when it is held already).
        cur.execute("UPDATE sqlite_sequence SET seq = seq WHERE name = %s", [table])
        cur.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"coalesce((SELECT max({quote(pk)}) FROM {quote(table)}), 0))",
            [table],
        )
        last = cur.fetchone()[0]
    return list(range(last + 1, last + 1 + count))


def _copy(table: str, names: str, cols: list[models.Field], rows: list[tuple]) -> bool:
    """COPY the rows in; False when the driver cannot (psycopg 2)."""
    with connection.cursor() as cur:
        raw = cur.cursor
        if not hasattr(raw, "copy"):
            return False
        adapters = []
        for i, f in enumerate(cols):
            if isinstance(f, models.JSONField):
                adapters.append((i, _json if f.encoder is None else _encoder(f)))
        rows = _adapted(rows, adapters)
        with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return True


def _encoder(field: models.JSONField) -> Adapter:
    return lambda v: json.dumps(v, cls=field.encoder)


def update(model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """UPDATE by primary key: each row is (value, ..., pk). On PostgreSQL one statement
    for all rows (arrays of the columns), not a round trip per row."""
    if not rows:
        return
    meta = model._meta
    cols = [meta.get_field(f) for f in fields]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    if connection.vendor == "postgresql":
        # JSON goes as text and is cast back: an array of jsonb needs no adapter then.
        json = {i for i, f in enumerate(cols) if isinstance(f, models.JSONField)}
        types = [
            "text" if i in json else f.db_type(connection) for i, f in enumerate([*cols, meta.pk])
        ]
        sets = ", ".join(
            f"{quote(f.column)} = v.c{i}" + ("::jsonb" if i in json else "")
            for i, f in enumerate(cols)
        )
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        names = ", ".join(f"c{i}" for i in range(len(types)))
        columns = [list(column) for column in zip(*rows, strict=True)]
        for i in json:
            columns[i] = [None if v is None else _json(v) for v in columns[i]]
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({names}) "
                f"WHERE {table}.{pk} = v.c{len(cols)}",
                columns,
            )
        return
    adapters = [(i, a) for i, f in enumerate(cols) if (a := _adapter(f)) is not None]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        table, ", ".join(f"{quote(f.column)} = %s" for f in cols), pk
    )
    with connection.cursor() as cur:
        cur.executemany(sql, _adapted(rows, adapters))
