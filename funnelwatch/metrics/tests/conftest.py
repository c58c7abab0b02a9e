from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period


@pytest.fixture
def week():
    return Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))


@pytest.fixture
def sales(world, at, settings, django_capture_on_commit_callbacks):
    """A hand-built week (2–8 March 2026) of alice's and bob's work; expected numbers are
    written out in test_catalog.py. Time is frozen on Monday 9 March, noon."""
    settings.FUNNELWATCH_MONTHLY_SALES_COST = "30000"
    w, s = world, world.stages
    traveller = time_machine.travel(at(2026, 3, 9, 12), tick=False)
    traveller.start()
    with django_capture_on_commit_callbacks(execute=True):
        d1 = services.create_lead(actor=w.alice, title="D1", owner=w.alice, at=at(2026, 3, 2, 10))
        d2 = services.create_lead(actor=w.alice, title="D2", owner=w.alice, at=at(2026, 3, 2, 11))
        services.mark_junk(d2, reason=w.junk_reason, actor=w.alice, at=at(2026, 3, 2, 12))
        d4 = services.create_lead(actor=w.head, title="D4", owner=w.bob, at=at(2026, 3, 2, 9))
        d3 = services.create_lead(actor=w.head, title="D3", owner=w.bob, at=at(2026, 3, 3, 10))
        # d1: alice carries it to a win through objections.
        services.move_stage(d1, s["Proposal sent"], actor=w.alice, at=at(2026, 3, 3, 10))
        services.send_proposal(d1, actor=w.alice, amount="1000", at=at(2026, 3, 3, 11))
        services.move_stage(d1, s["Objections"], actor=w.alice, at=at(2026, 3, 4, 10))
        services.add_note(actor=w.alice, deal=d1, text="Price talk", at=at(2026, 3, 4, 12))
        m = services.schedule_meeting(
            d1, actor=w.alice, scheduled_at=at(2026, 3, 5, 10), at=at(2026, 3, 4, 12, 30)
        )
        services.hold_meeting(m, actor=w.alice, at=at(2026, 3, 5, 10))
        services.move_stage(d1, s["Contract"], actor=w.alice, at=at(2026, 3, 6, 10))
        services.win(d1, actor=w.alice, amount="5000", cost="3000", at=at(2026, 3, 7, 10))
        # d3: bob sends a proposal, then the deal is handed to alice, who loses it.
        services.move_stage(d3, s["Proposal sent"], actor=w.bob, at=at(2026, 3, 3, 12))
        services.send_proposal(d3, actor=w.bob, amount="500", at=at(2026, 3, 3, 13))
        services.move_stage(d3, s["Objections"], actor=w.bob, at=at(2026, 3, 4, 10))
        services.reassign(d3, w.alice, actor=w.head, at=at(2026, 3, 5, 10))
        services.add_note(actor=w.alice, deal=d3, text="Follow-up", at=at(2026, 3, 5, 11))
        services.lose(d3, reason=w.lost_reason, actor=w.alice, at=at(2026, 3, 6, 10))
        services.reopen(d3, actor=w.head, at=at(2026, 3, 8, 10))
        # tasks
        t1 = services.create_task(
            actor=w.alice,
            title="Call",
            assignee=w.alice,
            due_at=at(2026, 3, 4, 18),
            at=at(2026, 3, 2, 10),
        )
        t2 = services.create_task(
            actor=w.alice,
            title="Mail",
            assignee=w.alice,
            due_at=at(2026, 3, 10, 18),
            at=at(2026, 3, 2, 10),
        )
        services.complete_task(t1, actor=w.alice, at=at(2026, 3, 5, 9))
        services.complete_task(t2, actor=w.alice, at=at(2026, 3, 3, 9))
        services.create_task(
            actor=w.head,
            title="Overdue",
            assignee=w.bob,
            due_at=at(2026, 3, 1, 10),
            at=at(2026, 2, 28, 10),
        )
    yield SimpleNamespace(d1=d1, d2=d2, d3=d3, d4=d4)
    traveller.stop()
