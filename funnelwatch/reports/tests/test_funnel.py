"""The funnel counted by the database answers what following each deal's stage changes
one by one answers (the reference below is the funnel's earlier Python computation)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter, defaultdict

import pytest

from funnelwatch.crm import services
from funnelwatch.crm.metrics import cohort
from funnelwatch.crm.models import Outcome, OwnerChange, Stage, StageChange
from funnelwatch.lib.dates import Period
from funnelwatch.reports.funnel import STEPS, funnel


def reference(period: Period, ids: set[int] | None) -> dict:
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
    blocks, previous = [], None
    for step in STEPS:
        reached = sum(1 for f in furthest.values() if f >= order[step])
        conversion = round(reached / previous * 100, 1) if previous else None
        blocks.append({"step": step, "reached": reached, "conversion": conversion})
        previous = reached
    dropped: Counter = Counter()
    open_now: Counter = Counter()
    outcomes: Counter = Counter()
    for to_stage, from_stage in last.values():
        outcome = stages[to_stage].outcome
        outcomes[outcome] += 1
        if outcome in (Outcome.LOST, Outcome.JUNK):
            dropped[from_stage] += 1
        elif outcome == Outcome.OPEN:
            open_now[to_stage] += 1
    lines = [
        (
            s.pk,
            len(entered[s.pk]),
            round(statistics.median(stays[s.pk]), 1) if stays[s.pk] else None,
            dropped[s.pk],
            open_now[s.pk],
        )
        for s in sorted(stages.values(), key=lambda s: (s.pipeline_id, s.position))
        if s.outcome == Outcome.OPEN
    ]
    return {
        "deals": len(last),
        "won": outcomes[Outcome.WON],
        "lost": outcomes[Outcome.LOST],
        "junk": outcomes[Outcome.JUNK],
        "blocks": blocks,
        "stages": lines,
    }


def counted(period: Period, ids: set[int] | None) -> dict:
    f = funnel(period, ids)
    return {
        "deals": f.deals,
        "won": f.won,
        "lost": f.lost,
        "junk": f.junk,
        "blocks": f.blocks,
        "stages": [(s.stage.pk, s.reached, s.median_days, s.dropped, s.open_now) for s in f.stages],
    }


def _history(world, at, seed: int) -> None:
    """Deals of three managers taken through random moves, wins, losses, junk, reopenings
    and re-assignments over March 2026, each step minutes to days after the last."""
    rng = random.Random(seed)
    people = [world.alice, world.bob, world.lead]
    open_stages = [s for s in world.stages.values() if s.outcome == Outcome.OPEN]
    for n in range(30):
        t = at(2026, 3, 1, 9) + dt.timedelta(hours=rng.randrange(0, 24 * 28))
        owner = rng.choice(people)
        deal = services.create_lead(actor=owner, title=f"D{n}", owner=owner, at=t)
        for _ in range(rng.randrange(0, 7)):
            t += dt.timedelta(minutes=rng.randrange(1, 60 * 24 * 4), seconds=rng.randrange(60))
            deal.refresh_from_db()
            kind = rng.choice(["move", "move", "move", "win", "lose", "junk", "reopen", "hand"])
            if kind == "move" and deal.is_open:
                services.move_stage(deal, rng.choice(open_stages), actor=deal.owner, at=t)
            elif kind == "win" and deal.is_open:
                services.win(deal, actor=deal.owner, at=t)
            elif kind == "lose" and deal.is_open:
                services.lose(deal, reason=world.lost_reason, actor=deal.owner, at=t)
            elif kind == "junk" and deal.is_open:
                services.mark_junk(deal, reason=world.junk_reason, actor=deal.owner, at=t)
            elif kind == "reopen" and deal.status in (Outcome.LOST, Outcome.JUNK):
                services.reopen(deal, actor=world.head, at=t)
            elif kind == "hand":
                services.reassign(deal, rng.choice(people), actor=world.head, at=t)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_funnel_counted_in_sql_equals_following_each_deal(world, at, seed):
    _history(world, at, seed)
    assert StageChange.objects.filter(left_at__isnull=False).exists()
    alice, bob = world.alice.pk, world.bob.pk
    for period in (
        Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1)),
        Period(dt.date(2026, 3, 8), dt.date(2026, 3, 15)),
        Period(dt.date(2026, 3, 10), dt.date(2026, 3, 11)),
    ):
        for ids in (None, {alice}, {alice, bob}, {world.outsider.pk}):
            assert counted(period, ids) == reference(period, ids), (period, ids)


def test_funnel_ties_and_even_counts(world, at):
    """Changes at the same moment are ordered by id; an even number of stays has the mean
    of the middle two as its median; microseconds count; a deal lost straight from
    creation (no previous stage) is lost, though it dropped from no stage."""
    s, alice = world.stages, world.alice
    t0 = at(2026, 3, 2, 10)
    d1 = services.create_lead(actor=alice, title="D1", owner=alice, at=t0)
    d2 = services.create_lead(actor=alice, title="D2", owner=alice, at=t0)
    d3 = services.create_lead(actor=alice, title="D3", owner=alice, at=t0)
    services.move_stage(d1, s["Qualified"], actor=alice, at=t0 + dt.timedelta(hours=6))
    services.move_stage(
        d2, s["Qualified"], actor=alice, at=t0 + dt.timedelta(hours=7, microseconds=250)
    )
    # d3 is moved and lost at the very same moment: the later row (by id) is its last.
    services.move_stage(d3, s["Proposal sent"], actor=alice, at=t0 + dt.timedelta(days=1))
    services.lose(d3, reason=world.lost_reason, actor=alice, at=t0 + dt.timedelta(days=1))
    d5 = services.create_lead(actor=alice, title="D5", owner=alice, at=t0)
    services.move_stage(d5, s["Qualified"], actor=alice, at=t0 + dt.timedelta(days=2))
    orphan = services.create_lead(actor=alice, title="D4", owner=alice, at=t0)
    StageChange.objects.filter(deal=orphan).update(to_stage=s["Lost"], from_stage=None)
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    got = counted(period, None)
    assert got == reference(period, None)
    assert got["deals"] == 5 and got["lost"] == 2
    new_lead = next(line for line in got["stages"] if line[0] == s["New lead"].pk)
    assert new_lead[2] == round(((7 * 3600 + 0.00025) / 86400 + 1) / 2, 1)
    proposal = next(line for line in got["stages"] if line[0] == s["Proposal sent"].pk)
    assert proposal[3] == 1  # d3 dropped out there


def test_funnel_of_nobody(world):
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    f = funnel(period, set())
    assert f.deals == 0 and [b["reached"] for b in f.blocks] == [0] * len(STEPS)
    assert all(s.median_days is None and s.reached == 0 for s in f.stages)
    assert not OwnerChange.objects.exists()


def test_funnel_without_stages(db):
    f = funnel(Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1)), None)
    assert f.deals == 0 and f.stages == [] and f.blocks[0]["reached"] == 0
