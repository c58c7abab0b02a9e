"""The weekly review sample, topped up through the week as calls come in."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from funnelwatch.core.periodic import periodic
from funnelwatch.quality import services


@periodic("quality.sample", every=dt.timedelta(hours=6))
def sample_reviews(now: dt.datetime) -> str:
    today = timezone.localtime(now).date()
    monday = services.week_start(today)
    # Last week too, for calls whose recordings arrived late.
    added = services.sample_week(monday - dt.timedelta(days=7)) + services.sample_week(monday)
    return f"{added} calls queued for review"
