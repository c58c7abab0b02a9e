"""The key-numbers table computed the way a typical Django CRM does it on every page
view: straight from the raw rows with the ORM, no rollups."""

from __future__ import annotations

import datetime as dt

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry


def key_numbers(period: Period) -> dict:
    """Every rolled metric for every manager over ``period``, its previous period and the
    4-week baseline, from raw records (the same three windows the table shows)."""
    window = Period(
        period.start - dt.timedelta(days=max(period.days, 28) + period.days), period.end
    )
    table: dict = {}
    for metric in registry.all_metrics():
        if metric.kind == "live":
            continue
        daily = engine.compute_daily(metric, window, None)
        for (manager, day), (value, weight) in daily.sums.items():
            key = "current" if day >= period.start else "earlier"
            cell = table.setdefault((metric.key, manager, key), [0, 0])
            cell[0] += value
            cell[1] += weight
        for (manager, day), values in daily.samples.items():
            key = "current" if day >= period.start else "earlier"
            table.setdefault((metric.key, manager, key, "samples"), []).extend(values)
    return table
