from __future__ import annotations

import datetime as dt
import random

from funnelwatch.alerts import demo
from funnelwatch.alerts.models import Alert, DigestCopy, Kind, LostReview
from funnelwatch.alerts.tests.conftest import workdays_between
from funnelwatch.core.demo import DemoContext
from funnelwatch.crm import services as crm


def test_demo_part_names_the_planted_problems(world, at, metrics):
    now = at(2026, 3, 25, 10)
    metrics.add("crm_actions")
    metrics.set(
        "crm_actions", world.bob, workdays_between(dt.date(2026, 2, 16), dt.date(2026, 3, 18)), 30
    )
    metrics.set(
        "crm_actions", world.bob, workdays_between(dt.date(2026, 3, 18), dt.date(2026, 3, 25)), 6
    )
    stuck = crm.create_lead(
        actor=world.alice, title="Forgotten", owner=world.alice, at=at(2026, 3, 2, 10)
    )
    for i in range(10):
        deal = crm.create_lead(
            actor=world.alice, title=f"L{i}", owner=world.alice, at=at(2026, 3, 2, 10)
        )
        crm.lose(deal, reason=world.lost_reason, actor=world.alice, at=at(2026, 3, 10, 10))
    ctx = DemoContext(
        seed=1,
        months=1,
        managers_count=2,
        rng=random.Random(1),
        now=now,
        start=at(2026, 2, 1, 0),
        managers=[world.alice, world.bob],
    )
    ctx.planted["activity_drop_manager"] = "bob"
    ctx.planted["stalled_deals"] = [stuck.pk]
    demo.generate(ctx)
    assert Alert.objects.filter(kind=Kind.ACTIVITY_DROP, manager=world.bob).exists()
    assert Alert.objects.filter(kind=Kind.STALLED_DEAL, subject_id__isnull=False).exists()
    assert any("activity drop of bob" in n and "NOT" not in n for n in ctx.notes)
    assert f"alerts: planted deals (stalled_deals): #{stuck.pk}" in ctx.notes
    assert 0 < LostReview.objects.count() <= 10
    assert DigestCopy.objects.filter(day=dt.date(2026, 3, 24), sent_at__isnull=True).exists()
