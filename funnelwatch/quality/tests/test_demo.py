from __future__ import annotations

import datetime as dt
import random

from funnelwatch.core.demo import DemoContext
from funnelwatch.quality import demo
from funnelwatch.quality.models import ExemplaryCall, RecordingAnalysis, Review, ReviewQueueItem
from funnelwatch.quality.tests.conftest import make_call


def test_demo_gives_varied_analysed_calls_and_reviews(world, at):
    for i in range(30):
        make_call(
            (world.alice, world.bob)[i % 2],
            at(2026, 3, 2 + i % 12, 9 + i % 8),
            duration_s=70 + 3 * i,
        )
    now = at(2026, 3, 16, 12)
    ctx = DemoContext(
        seed=1,
        months=1,
        managers_count=2,
        rng=random.Random(1),
        now=now,
        start=now - dt.timedelta(days=30),
        users={u.username: u for u in (world.head, world.reviewer, world.alice, world.bob)},
        managers=[world.alice, world.bob],
    )
    demo.generate(ctx)
    analyses = RecordingAnalysis.objects.all()
    assert analyses.count() == 24 and not analyses.filter(status="failed").exists()
    flags = {f for a in analyses for f in a.flags}
    assert {"mostly_silence", "mostly_noise", "one_sided"} <= flags
    ratios = {a.recording.call.manager_id: a.talk_ratio for a in analyses if not a.flagged}
    assert ratios[world.alice.pk] != ratios[world.bob.pk]
    assert ReviewQueueItem.objects.filter(reason="flagged").exists()
    assert Review.objects.exists() and ExemplaryCall.objects.exists()
    assert "quality:" in ctx.notes[-1] and ctx.planted["quality_flagged_calls"]
