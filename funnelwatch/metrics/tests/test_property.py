"""Random worlds of deals, stage moves, re-assignments and tasks: the rollups kept current
by CRM events answer exactly what a direct recomputation from raw records answers."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelwatch.crm import services
from funnelwatch.crm.models import Outcome, Task
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry

OPS = [
    "lead",
    "lead",
    "move",
    "move",
    "win",
    "lose",
    "junk",
    "reopen",
    "reassign",
    "proposal",
    "note",
    "meeting",
    "task",
    "done",
]

op = st.tuples(
    st.sampled_from(OPS), st.integers(0, 20), st.integers(0, 20), st.integers(0, 40)
)  # kind, which record, parameter, hours since last op


def _apply(world, t, kind, i, k, deals, tasks):
    people = [world.alice, world.bob, world.lead]
    who = people[k % len(people)]
    open_stages = [s for s in world.stages.values() if s.outcome == Outcome.OPEN]
    deal = deals[i % len(deals)] if deals else None
    if deal is not None:
        deal.refresh_from_db()
    if kind == "lead" or deal is None:
        deals.append(
            services.create_lead(
                actor=who,
                title=f"D{len(deals)}",
                owner=who,
                at=t,
                amount=100 * (k + 1),
                cost=30 * k,
            )
        )
    elif kind == "move" and deal.is_open:
        services.move_stage(deal, open_stages[k % len(open_stages)], actor=deal.owner, at=t)
    elif kind == "win" and deal.is_open:
        services.win(deal, actor=deal.owner, at=t)
    elif kind == "lose" and deal.is_open:
        services.lose(deal, reason=world.lost_reason, actor=deal.owner, at=t)
    elif kind == "junk" and deal.is_open:
        services.mark_junk(deal, reason=world.junk_reason, actor=deal.owner, at=t)
    elif kind == "reopen" and deal.status in (Outcome.LOST, Outcome.JUNK):
        services.reopen(deal, actor=world.head, at=t)
    elif kind == "reassign":
        services.reassign(deal, who, actor=world.head, at=t)
    elif kind == "proposal":
        services.send_proposal(deal, actor=deal.owner, amount=50 * k, at=t)
    elif kind == "note":
        services.add_note(actor=deal.owner, deal=deal, text="n", at=t)
    elif kind == "meeting":
        m = services.schedule_meeting(deal, actor=deal.owner, scheduled_at=t, at=t)
        services.hold_meeting(m, actor=deal.owner, at=t)
    elif kind == "task":
        tasks.append(
            services.create_task(
                actor=who,
                title="t",
                assignee=who,
                deal=deal,
                due_at=t + dt.timedelta(hours=k * 3),
                at=t,
            )
        )
    elif kind == "done" and tasks:
        task = Task.objects.get(pk=tasks[i % len(tasks)].pk)
        if task.done_at is None:
            services.complete_task(task, actor=task.assignee, at=t)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(op, min_size=1, max_size=40),
    cut=st.tuples(st.integers(0, 40), st.integers(1, 40)),
    who=st.sets(st.sampled_from(["alice", "bob", "lead", "head"])),
)
def test_rollups_equal_raw_recomputation(
    world, at, django_capture_on_commit_callbacks, ops, cut, who
):
    start = at(2026, 3, 1, 0)
    with transaction.atomic():
        t, deals, tasks = start, [], []
        for kind, i, k, hours in ops:
            t += dt.timedelta(hours=hours, minutes=7)
            # Each operation commits on its own, as in production.
            with django_capture_on_commit_callbacks(execute=True):
                _apply(world, t, kind, i, k, deals, tasks)
        first = dt.date(2026, 3, 1) + dt.timedelta(days=cut[0])
        period = Period(first, first + dt.timedelta(days=cut[1]))
        managers = {getattr(world, name).pk for name in who} or None
        groups = {"some": managers, "each": {world.alice.pk}, "all": None}
        keys = [m.key for m in registry.rolled_metrics()]
        assert engine.group_values(keys, period, groups, "rollup") == engine.group_values(
            keys, period, groups, "raw"
        )
        assert engine.verify(Period(dt.date(2026, 2, 28), dt.date(2026, 4, 30))) == []
        transaction.set_rollback(True)
