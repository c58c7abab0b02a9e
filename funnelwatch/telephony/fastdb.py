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
    offset = value.utcoffset()
    return str((value - offset).replace(tzinfo=None) if offset else value.replace(tzinfo=None))


def _json(value: object) -> str:
    return "{}" if value == {} else json.dumps(value, ensure_ascii=False)


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


def insert(
    model: type[models.Model], fields: Sequence[str], rows: list[tuple], batch: int = 5000
) -> None:
    """INSERT ``rows`` (tuples in ``fields`` order, raw Python values) into ``model``."""
    if not rows:
        return
    meta = model._meta
    cols = [meta.get_field(f) for f in fields]
    adapters = [(i, a) for i, f in enumerate(cols) if (a := _adapter(f)) is not None]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in cols),
        ", ".join(["%s"] * len(cols)),
    )
    if adapters:
        out = []
        for row in rows:
            row = list(row)
            for i, adapt in adapters:
                if row[i] is not None:
                    row[i] = adapt(row[i])
            out.append(row)
        rows = out
    with connection.cursor() as cur:
        for i in range(0, len(rows), batch):
            cur.executemany(sql, rows[i : i + batch])


def update(model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """UPDATE by primary key: each row is (value, ..., pk)."""
    if not rows:
        return
    meta = model._meta
    cols = [meta.get_field(f) for f in fields]
    adapters = [(i, a) for i, f in enumerate(cols) if (a := _adapter(f)) is not None]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in cols),
        quote(meta.pk.column),
    )
    out = []
    for row in rows:
        row = list(row)
        for i, adapt in adapters:
            if row[i] is not None:
                row[i] = adapt(row[i])
        out.append(row)
    with connection.cursor() as cur:
        cur.executemany(sql, out)
