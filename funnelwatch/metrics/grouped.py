"""Aggregates of raw rows for several groups of managers in one query.

``period`` metrics (distinct clients, for instance) cannot be summed from daily rollups;
they are computed from raw rows for each group of the table (every manager, every team,
everyone). Rather than carry the rows to Python, the groups go to the database as a
small VALUES table joined to the rows, and one GROUP BY answers for all of them.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet


def aggregate_by_group(
    rows: QuerySet, manager: str, aggregates: list[str], groups: dict[object, set[int] | None]
) -> dict[object, tuple]:
    """{group: (aggregate values...)} over ``rows`` (a ``values()`` queryset).

    ``manager`` names the column of ``rows`` holding the manager id; ``aggregates`` are
    SQL expressions over the columns of ``rows`` (``SUM(amount)``,
    ``COUNT(DISTINCT client)``). A group of None is everyone; a group with no rows gets
    no entry.
    """
    sql, params = rows.query.sql_with_params()
    index = {g: i for i, g in enumerate(groups)}
    pairs = sorted(
        (index[g], int(m)) for g, members in groups.items() if members is not None for m in members
    )
    select = ", ".join(aggregates)
    branches = []
    if pairs:
        # Ids are integers, written inline.
        values = ", ".join(f"({i}, {m})" for i, m in pairs)
        branches.append(
            f"SELECT g.grp, {select} FROM w JOIN g ON g.manager_id = w.{manager} GROUP BY g.grp"
        )
    if any(members is None for members in groups.values()):
        branches.append(f"SELECT -1 AS grp, {select} FROM w")
    if not branches:
        return {}
    ctes = [f"w AS ({sql})"]
    if pairs:
        ctes.append(f"g (grp, manager_id) AS (VALUES {values})")
    query = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(branches)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        found = {int(row[0]): tuple(row[1:]) for row in cursor.fetchall()}
    out = {}
    for g, members in groups.items():
        row = found.get(-1 if members is None else index[g])
        if row is not None:
            out[g] = row
    return out
