"""The funnel of a cohort: deals created in a period, followed however long they take.

For each block and stage: how many of the cohort's deals got there (or further), the
conversion from the previous block, the median days deals spent in each stage, and
where the lost and junk deals dropped out.

The database does the counting: three grouped queries over the cohort's stage changes
return a few dozen rows whatever the cohort's size (a team's quarter or everyone's year),
so the page's cost is the database's scan of the cohort's history, not Python work per
stage change.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from funnelwatch.crm.metrics import cohort
from funnelwatch.crm.models import BLOCK_ORDER, Outcome, Stage, StageChange
from funnelwatch.lib.dates import Period

STEPS = [*BLOCK_ORDER, "won"]


@dataclass
class StageLine:
    stage: Stage
    reached: int = 0
    median_days: float | None = None
    dropped: int = 0  # cohort deals lost or junked from this stage
    open_now: int = 0


@dataclass
class Funnel:
    period: Period
    deals: int
    blocks: list[dict] = field(default_factory=list)  # step, reached, conversion
    stages: list[StageLine] = field(default_factory=list)
    lost: int = 0
    junk: int = 0
    won: int = 0


def _step(stage: Stage) -> int | None:
    """How far into the funnel entering ``stage`` takes a deal (None: lost or junk)."""
    if stage.outcome == Outcome.WON:
        return STEPS.index("won")
    if stage.outcome == Outcome.OPEN:
        return STEPS.index(stage.block)
    return None


def _duration_key(left: str, at: str) -> str:
    """SQL ordering the stays by length exactly (SQLite keeps timestamps as text)."""
    if connection.vendor == "sqlite":

        def micro(col: str) -> str:
            return (
                f"(CAST(strftime('%%s', {col}) AS INTEGER) * 1000000"
                f" + CAST(round(CAST(substr({col}, 20) AS REAL) * 1000000) AS INTEGER))"
            )

        return f"({micro(left)} - {micro(at)})"
    return f"({left} - {at})"


def _days(at: dt.datetime | str, left: dt.datetime | str) -> float:
    """Days between two timestamps as the database hands them (text on SQLite, in UTC)."""
    if isinstance(at, str):
        at, left = parse_datetime(at), parse_datetime(left)
    return (left - at).total_seconds() / 86400


def _count(stages: dict[int, Stage], cohort_sql: str, cohort_params: tuple) -> tuple:
    """Grouped counts over the stage changes of the deals ``cohort_sql`` selects: (furthest
    step, last stage, stage left from, deals) rows; deals that entered each open stage; and
    per open stage the durations (days) of the middle one or two finished stays.

    Two statements. The first groups the cohort's changes by deal in one pass, each
    deal's last change (by time, then id) marked by its rank, then groups the deals. The
    second ranks the finished stays of each open stage by length and returns the middle
    ones.

    On PostgreSQL the cohort is read once, and both statements look its deals' changes up
    by the (deal, at) index: with the cohort as a subquery the planner joined it against
    every stage change of the department, so a team's funnel cost as much as the whole
    department's history, and the cohort was computed twice.
    """
    table = connection.ops.quote_name(StageChange._meta.db_table)
    # Stage ids and step numbers are integers of our own: written into the SQL as such.
    steps = [(int(pk), _step(s)) for pk, s in stages.items() if _step(s) is not None]
    step_case = (
        "CASE to_stage_id " + " ".join(f"WHEN {k} THEN {v}" for k, v in steps) + " END"
        if steps
        else "NULL"
    )
    open_ids = [int(pk) for pk, s in stages.items() if s.outcome == Outcome.OPEN]
    per_deal = ", ".join(
        [f"MAX({step_case}) AS furthest"]
        + ["MAX(CASE WHEN rk = 1 THEN to_stage_id END) AS last_to"]
        + ["MAX(CASE WHEN rk = 1 THEN from_stage_id END) AS last_from"]
        + [f"MAX(CASE WHEN to_stage_id = {k} THEN 1 ELSE 0 END) AS e{k}" for k in open_ids]
        + [
            f"SUM(CASE WHEN to_stage_id = {k} AND left_at IS NOT NULL THEN 1 ELSE 0 END) AS f{k}"
            for k in open_ids
        ]
    )
    per_group = ", ".join(
        ["furthest", "last_to", "last_from", "COUNT(*)"]
        + [f"SUM(e{k})" for k in open_ids]
        + [f"SUM(f{k})" for k in open_ids]
    )
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # Statements that run in milliseconds gain nothing from JIT compilation; the
            # ranking of a quarter's stays (~70k rows at S) would spill to disk with the
            # default 4 MB of sort memory.
            cur.execute("SET LOCAL jit = off")
            cur.execute("SET LOCAL work_mem = '64MB'")
            cur.execute(cohort_sql, cohort_params)
            deals = sorted({row[0] for row in cur.fetchall()})
            if not deals:
                return [], {}, {}
            of_cohort, params = "deal_id = ANY((SELECT %s::bigint[])::bigint[])", (deals,)
        else:
            of_cohort, params = f"deal_id IN ({cohort_sql})", cohort_params
        cur.execute(
            f"""SELECT {per_group} FROM (
                  SELECT {per_deal} FROM (
                    SELECT deal_id, to_stage_id, from_stage_id, left_at,
                           ROW_NUMBER() OVER (PARTITION BY deal_id
                             ORDER BY at DESC, id DESC) AS rk
                    FROM {table} WHERE {of_cohort}
                  ) AS c
                  GROUP BY deal_id
                ) AS d
                GROUP BY furthest, last_to, last_from""",
            params,
        )
        rows = cur.fetchall()
        lasts = [row[:4] for row in rows]
        totals = [sum(row[4 + i] for row in rows) for i in range(2 * len(open_ids))]
        entered = dict(zip(open_ids, totals[: len(open_ids)], strict=True))
        finished = dict(zip(open_ids, totals[len(open_ids) :], strict=True))
        # The middle one or two of each open stage's finished stays, ranked by length.
        middles: dict[int, list[float]] = {pk: [] for pk in open_ids}
        wanted = {k: {(n + 1) // 2, (n + 2) // 2} for k, n in finished.items() if n}
        if wanted:
            which = " OR ".join(
                f"(to_stage_id = {k} AND rn IN ({', '.join(map(str, sorted(rns)))}))"
                for k, rns in wanted.items()
            )
            marks = ", ".join(str(k) for k in wanted)
            cur.execute(
                f"""SELECT to_stage_id, at, left_at FROM (
                      SELECT to_stage_id, at, left_at,
                             ROW_NUMBER() OVER (PARTITION BY to_stage_id
                               ORDER BY {_duration_key("left_at", "at")}) AS rn
                      FROM {table}
                      WHERE {of_cohort} AND left_at IS NOT NULL
                        AND to_stage_id IN ({marks})
                    ) AS stays WHERE {which}""",
                params,
            )
            for to_stage, at, left in cur.fetchall():
                middles[to_stage].append(_days(at, left))
    return lasts, entered, middles


def funnel(period: Period, ids: set[int] | None) -> Funnel:
    """``ids``: managers credited at creation (None: everyone)."""
    stages = {s.pk: s for s in Stage.objects.all()}
    deal_ids = cohort(period, ids).values("deal_id").order_by()  # no sort inside IN (...)
    try:
        cohort_sql, cohort_params = deal_ids.query.sql_with_params()
    except EmptyResultSet:  # nobody's deals (e.g. a team none of whose members is visible)
        lasts, entered, middles = [], {}, {}
    else:
        lasts, entered, middles = _count(stages, cohort_sql, cohort_params)
    reached_at: Counter = Counter()
    dropped: Counter = Counter()
    open_now: Counter = Counter()
    result = Funnel(period, sum(n for *_, n in lasts))
    for furthest, to_stage, from_stage, n in lasts:
        if furthest is not None:
            reached_at[furthest] += n
        outcome = stages[to_stage].outcome
        if outcome in (Outcome.LOST, Outcome.JUNK):
            dropped[from_stage] += n
            if outcome == Outcome.LOST:
                result.lost += n
            else:
                result.junk += n
        elif outcome == Outcome.WON:
            result.won += n
        else:
            open_now[to_stage] += n
    previous = None
    for i, step in enumerate(STEPS):
        reached = sum(n for f, n in reached_at.items() if f >= i)
        conversion = round(reached / previous * 100, 1) if previous else None
        result.blocks.append({"step": step, "reached": reached, "conversion": conversion})
        previous = reached
    for stage in sorted(stages.values(), key=lambda s: (s.pipeline_id, s.position)):
        if stage.outcome != Outcome.OPEN:
            continue
        mids = middles.get(stage.pk)
        result.stages.append(
            StageLine(
                stage,
                reached=entered.get(stage.pk, 0),
                median_days=round(statistics.median(mids), 1) if mids else None,
                dropped=dropped[stage.pk],
                open_now=open_now[stage.pk],
            )
        )
    return result
