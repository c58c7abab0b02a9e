from __future__ import annotations

import datetime as dt

from django.utils import timezone

from funnelwatch.clients import segments
from funnelwatch.core.periodic import periodic
from funnelwatch.lib.dates import local_date


# Hourly, computing only what a new day (or an unclosed month) needs: the first run after
# local midnight makes the day's snapshot, later ones find nothing to do.
@periodic("clients.segments", every=dt.timedelta(hours=1))
def refresh_segments(now: dt.datetime) -> str:
    runs = segments.refresh(local_date(now, timezone.get_current_timezone()))
    if not runs:
        return "up to date"
    return "; ".join(f"as of {run.as_of}: {run.companies} companies" for run in runs)
