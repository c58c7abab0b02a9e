from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from funnelwatch.metrics import registry


class StubMetrics:
    """Metrics in the registry whose daily values a test sets by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.values: dict[str, dict[tuple[int, dt.date], float]] = defaultdict(dict)
        self.monkeypatch = monkeypatch

    def add(self, key: str, label: str = "", unit: str = "count", kind: str = "sum") -> None:
        def compute(period, manager_ids):
            for (manager_id, day), value in self.values[key].items():
                if day in period and (manager_ids is None or manager_id in manager_ids):
                    yield registry.Point(manager_id, day, value)

        metric = registry.Metric(key, "daily", label or key.replace("_", " "), unit, kind, compute)
        self.monkeypatch.setitem(registry._REGISTRY, key, metric)

    def set(self, key: str, manager, days, value: float) -> None:
        for day in days:
            self.values[key][(manager.pk, day)] = value


@pytest.fixture
def metrics(monkeypatch, settings):
    # Stub metrics have no rollups: read them through the registry.
    settings.FUNNELWATCH_ALERTS_METRIC_SOURCE = "raw"
    # Start from an empty registry so a test sees only the metrics it defines.
    monkeypatch.setattr(registry, "_REGISTRY", {})
    return StubMetrics(monkeypatch)


def workdays_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Monday-to-Friday days in [start, end)."""
    out, day = [], start
    while day < end:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out
