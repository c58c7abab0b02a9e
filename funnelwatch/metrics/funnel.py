"""The funnel of a cohort: deals created in a period, followed however long they take.

For each block and stage: how many of the cohort's deals got there (or further), the
conversion from the previous block, the median days deals spent in each stage, and
where the lost and junk deals dropped out.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

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


def funnel(period: Period, ids: set[int] | None) -> Funnel:
    """``ids``: managers credited at creation (None: everyone)."""
    deal_ids = cohort(period, ids).values("deal_id")
    changes = (
        StageChange.objects.filter(deal_id__in=deal_ids)
        .values_list("deal_id", "to_stage_id", "from_stage_id", "at", "left_at")
        .order_by("deal_id", "at", "id")
    )
    stages = {s.pk: s for s in Stage.objects.all()}
    order = {b: i for i, b in enumerate(STEPS)}
    furthest: dict[int, int] = {}
    entered: dict[int, set[int]] = defaultdict(set)
    stays: dict[int, list[float]] = defaultdict(list)
    last: dict[int, tuple[int, int | None]] = {}
    for deal, to_stage, from_stage, at, left in changes:
        stage = stages[to_stage]
        entered[to_stage].add(deal)
        step = "won" if stage.outcome == Outcome.WON else stage.block
        if stage.outcome in (Outcome.OPEN, Outcome.WON):
            furthest[deal] = max(furthest.get(deal, 0), order[step])
        if left is not None and stage.outcome == Outcome.OPEN:
            stays[to_stage].append((left - at).total_seconds() / 86400)
        last[deal] = (to_stage, from_stage)
    result = Funnel(period, len(last))
    previous = None
    for step in STEPS:
        reached = sum(1 for f in furthest.values() if f >= order[step])
        conversion = round(reached / previous * 100, 1) if previous else None
        result.blocks.append({"step": step, "reached": reached, "conversion": conversion})
        previous = reached
    dropped: Counter = Counter()
    open_now: Counter = Counter()
    for to_stage, from_stage in last.values():
        outcome = stages[to_stage].outcome
        if outcome in (Outcome.LOST, Outcome.JUNK):
            dropped[from_stage] += 1
            result.lost += outcome == Outcome.LOST
            result.junk += outcome == Outcome.JUNK
        elif outcome == Outcome.WON:
            result.won += 1
        else:
            open_now[to_stage] += 1
    for stage in sorted(stages.values(), key=lambda s: (s.pipeline_id, s.position)):
        if stage.outcome != Outcome.OPEN:
            continue
        result.stages.append(
            StageLine(
                stage,
                reached=len(entered[stage.pk]),
                median_days=round(statistics.median(stays[stage.pk]), 1)
                if stays[stage.pk]
                else None,
                dropped=dropped[stage.pk],
                open_now=open_now[stage.pk],
            )
        )
    return result
