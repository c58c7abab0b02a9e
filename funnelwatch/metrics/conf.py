"""Settings of the metrics app, read from the environment."""

from __future__ import annotations

from funnelwatch.lib.env import envbool

# Recompute the affected daily rollups right after each CRM change commits. Bulk loaders
# may turn it off and run ``funnelwatch rollups rebuild`` once at the end.
REFRESH_ON_EVENT = envbool("FUNNELWATCH_METRICS_REFRESH_ON_EVENT", True)
