from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine

from funnelwatch.crm import services
from funnelwatch.crm.models import Deal
from funnelwatch.lib.dates import Period


@pytest.fixture
def week():
    return Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))


SERVICES = [
    "create_lead",
    "mark_junk",
    "move_stage",
    "send_proposal",
    "add_note",
    "schedule_meeting",
    "hold_meeting",
    "win",
    "reassign",
    "lose",
    "reopen",
    "create_task",
    "complete_task",
]


@pytest.fixture
def sales(world, at, settings, django_capture_on_commit_callbacks):
    """A hand-built week (2–8 March 2026) of alice's and bob's work; expected numbers are
    written out in test_catalog.py. Time is frozen on Monday 9 March, noon."""
    settings.FUNNELWATCH_MONTHLY_SALES_COST = "30000"
    w, s = world, world.stages
    traveller = time_machine.travel(at(2026, 3, 9, 12), tick=False)
    traveller.start()
    build_week(w, s, at, django_capture_on_commit_callbacks)
    yield SimpleNamespace(**{d.title.lower(): d for d in Deal.objects.all()})
    traveller.stop()


def build_week(w, s, at, capture):
    """Each service call commits on its own (its rollup refresh runs right after)."""
    real = {name: getattr(services, name) for name in SERVICES}

    def committing(fn):
        def call(*args, **kwargs):
            with capture(execute=True):
                return fn(*args, **kwargs)

        return call

    sv = SimpleNamespace(**{name: committing(fn) for name, fn in real.items()})
    d1 = sv.create_lead(actor=w.alice, title="D1", owner=w.alice, at=at(2026, 3, 2, 10))
    d2 = sv.create_lead(actor=w.alice, title="D2", owner=w.alice, at=at(2026, 3, 2, 11))
    sv.mark_junk(d2, reason=w.junk_reason, actor=w.alice, at=at(2026, 3, 2, 12))
    sv.create_lead(actor=w.head, title="D4", owner=w.bob, at=at(2026, 3, 2, 9))
    d3 = sv.create_lead(actor=w.head, title="D3", owner=w.bob, at=at(2026, 3, 3, 10))
    # d1: alice carries it to a win through objections.
    sv.move_stage(d1, s["Proposal sent"], actor=w.alice, at=at(2026, 3, 3, 10))
    sv.send_proposal(d1, actor=w.alice, amount="1000", at=at(2026, 3, 3, 11))
    sv.move_stage(d1, s["Objections"], actor=w.alice, at=at(2026, 3, 4, 10))
    sv.add_note(actor=w.alice, deal=d1, text="Price talk", at=at(2026, 3, 4, 12))
    m = sv.schedule_meeting(
        d1, actor=w.alice, scheduled_at=at(2026, 3, 5, 10), at=at(2026, 3, 4, 12, 30)
    )
    sv.hold_meeting(m, actor=w.alice, at=at(2026, 3, 5, 10))
    sv.move_stage(d1, s["Contract"], actor=w.alice, at=at(2026, 3, 6, 10))
    sv.win(d1, actor=w.alice, amount="5000", cost="3000", at=at(2026, 3, 7, 10))
    # d3: bob sends a proposal, then the deal is handed to alice, who loses it.
    sv.move_stage(d3, s["Proposal sent"], actor=w.bob, at=at(2026, 3, 3, 12))
    sv.send_proposal(d3, actor=w.bob, amount="500", at=at(2026, 3, 3, 13))
    sv.move_stage(d3, s["Objections"], actor=w.bob, at=at(2026, 3, 4, 10))
    sv.reassign(d3, w.alice, actor=w.head, at=at(2026, 3, 5, 10))
    sv.add_note(actor=w.alice, deal=d3, text="Follow-up", at=at(2026, 3, 5, 11))
    sv.lose(d3, reason=w.lost_reason, actor=w.alice, at=at(2026, 3, 6, 10))
    sv.reopen(d3, actor=w.head, at=at(2026, 3, 8, 10))
    # tasks
    t1 = sv.create_task(
        actor=w.alice,
        title="Call",
        assignee=w.alice,
        due_at=at(2026, 3, 4, 18),
        at=at(2026, 3, 2, 10),
    )
    t2 = sv.create_task(
        actor=w.alice,
        title="Mail",
        assignee=w.alice,
        due_at=at(2026, 3, 10, 18),
        at=at(2026, 3, 2, 10),
    )
    sv.complete_task(t1, actor=w.alice, at=at(2026, 3, 5, 9))
    sv.complete_task(t2, actor=w.alice, at=at(2026, 3, 3, 9))
    sv.create_task(
        actor=w.head,
        title="Overdue",
        assignee=w.bob,
        due_at=at(2026, 3, 1, 10),
        at=at(2026, 2, 28, 10),
    )
