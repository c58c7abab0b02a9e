"""The metrics kernel: the registry, the rollups, the engine and the one entry point of
every change into the numbers, :func:`changed` (``docs/architecture.md``).

It imports no domain app: domains register their metrics (``<app>/metrics.py``) and tell
it what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime


def changed(
    source: str,
    managers: Iterable[int | None],
    days: Iterable[date | datetime],
    *,
    keys: Iterable[str] | str | None = None,
) -> None:
    """Mark the (manager, local day) pairs a change touched; see
    :func:`funnelwatch.metrics.refresh.changed` for the contract."""
    from funnelwatch.metrics import refresh

    refresh.changed(source, managers, days, keys=keys)


def __getattr__(name: str) -> object:
    # ``funnelwatch.metrics.refresh`` / ``.registry`` as attributes, imported on first use
    # (the package itself is imported before Django's apps are ready).
    if name in ("refresh", "registry", "engine"):
        import importlib

        return importlib.import_module(f"funnelwatch.metrics.{name}")
    raise AttributeError(name)
