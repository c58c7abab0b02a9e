"""Settings of the metrics app, read from the environment."""

from __future__ import annotations

from funnelwatch.lib.env import envbool, envint

# Recompute the affected daily rollups right after each CRM change commits. Bulk loaders
# may turn it off and run ``funnelwatch rollups rebuild`` once at the end.
REFRESH_ON_EVENT = envbool("FUNNELWATCH_METRICS_REFRESH_ON_EVENT", True)

# "Now" metrics (stalled deals, overdue tasks, unanswered letters) scan open records; the
# key-numbers page reuses their answer for this many seconds (0: always recompute).
LIVE_CACHE_SECONDS = envint("FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS", 60)
