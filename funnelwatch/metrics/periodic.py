"""The worker's side of the one door: recompute the (manager, day) pairs changes stored
as dirty (``refresh.background``: webhook events), each once."""

from __future__ import annotations

import datetime as dt

from funnelwatch.core.periodic import periodic
from funnelwatch.metrics import refresh


@periodic("metrics-dirty", every=dt.timedelta(seconds=5))
def refresh_dirty(now: dt.datetime) -> str | None:
    done = refresh.flush_dirty()
    return f"{done} manager-days refreshed" if done else None
