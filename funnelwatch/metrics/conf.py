"""Settings of the metrics app, read from the environment."""

from __future__ import annotations

from funnelwatch.lib.env import envbool, envint

# Recompute the affected daily rollups right after each CRM change commits. Bulk loaders
# may turn it off and run ``funnelwatch rollups rebuild`` once at the end.
REFRESH_ON_EVENT = envbool("FUNNELWATCH_METRICS_REFRESH_ON_EVENT", True)

# "Now" metrics (stalled deals, overdue tasks, unanswered letters) scan open records; the
# key-numbers page reuses their answer for this many seconds (0: always recompute).
LIVE_CACHE_SECONDS = envint("FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS", 60)

# Period answers read from the rollups (sums and medians per manager) are reused for this
# many seconds while no day of the period has been rebuilt since (0: always read).
ROLLUP_CACHE_SECONDS = envint("FUNNELWATCH_ROLLUP_CACHE_SECONDS", 3600)
