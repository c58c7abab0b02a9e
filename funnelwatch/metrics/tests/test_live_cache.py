from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine


def _overdue(world) -> object:
    today = timezone.localdate()
    period = Period(today, today + dt.timedelta(days=1))
    return engine.group_values(["tasks_overdue"], period, {"a": {world.alice.pk}})["a"][
        "tasks_overdue"
    ]


def test_live_metrics_are_reused_for_the_configured_seconds(world, settings):
    cache.clear()
    past = timezone.now() - dt.timedelta(days=2)
    services.create_task(actor=world.alice, title="Call", assignee=world.alice, due_at=past)
    settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS = 60
    assert _overdue(world) == 1
    services.create_task(actor=world.alice, title="Call 2", assignee=world.alice, due_at=past)
    assert _overdue(world) == 1  # the answer of a moment ago
    settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS = 0
    assert _overdue(world) == 2
