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
from django.db import connection
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
    step, last stage, stage left from, deals) rows; deals per stage entered; and per open
    stage the durations (days) of the middle one or two finished stays."""
    table = connection.ops.quote_name(StageChange._meta.db_table)
    steps = [(pk, _step(s)) for pk, s in stages.items() if _step(s) is not None]
    # Stage ids and step numbers are integers of our own: written into the SQL as such.
    step_case = (
        "CASE to_stage_id " + " ".join(f"WHEN {int(k)} THEN {v}" for k, v in steps) + " END"
        if steps
        else "NULL"
    )
    open_ids = [pk for pk, s in stages.items() if s.outcome == Outcome.OPEN]
    mine = f"deal_id IN ({cohort_sql})"
    with connection.cursor() as cur:
        # Per deal: the furthest step reached and the last change (by time, then id).
        cur.execute(
            f"""SELECT furthest, to_stage_id, from_stage_id, COUNT(*) FROM (
                  SELECT to_stage_id, from_stage_id,
                         MAX({step_case}) OVER (PARTITION BY deal_id) AS furthest,
                         ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY at DESC, id DESC)
                           AS rn
                  FROM {table} WHERE {mine}
                ) AS per_deal WHERE rn = 1
                GROUP BY furthest, to_stage_id, from_stage_id""",
            cohort_params,
        )
        lasts = cur.fetchall()
        cur.execute(
            f"SELECT to_stage_id, COUNT(DISTINCT deal_id) FROM {table} WHERE {mine}"
            " GROUP BY to_stage_id",
            cohort_params,
        )
        entered = dict(cur.fetchall())
        # Per open stage, the middle one or two finished stays: their median is the median.
        middles: dict[int, list[float]] = {pk: [] for pk in open_ids}
        if open_ids:
            marks = ", ".join(str(int(pk)) for pk in open_ids)
            cur.execute(
                f"""SELECT to_stage_id, at, left_at FROM (
                      SELECT to_stage_id, at, left_at,
                             ROW_NUMBER() OVER (PARTITION BY to_stage_id
                               ORDER BY {_duration_key("left_at", "at")}) AS rn,
                             COUNT(*) OVER (PARTITION BY to_stage_id) AS n
                      FROM {table}
                      WHERE {mine} AND left_at IS NOT NULL AND to_stage_id IN ({marks})
                    ) AS stays WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2""",
                cohort_params,
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
