"""Keeping the daily rollups current: the one door every change into the numbers goes
through.

A writer (the CRM services, call and mail ingest, quality analyses and reviews, plans,
imports) calls :func:`funnelwatch.metrics.changed` with the source of the change, the
managers and the local days it may have changed. Each (manager, day) is marked dirty and
recomputed once:

- in a request or any transaction: once, right after the transaction commits (every
  change of the transaction together);
- inside :func:`deferred` (a file imported in many batches): once, when the block ends;
- inside :func:`background` (webhook events answered in their request): the pairs are
  stored in ``metrics_dirtyday`` with the change and recomputed by the periodic job
  ``metrics-dirty`` (each run of ``runperiodic``), each pair once however many events
  named it;
- inside :func:`suspended`: not at all (the caller rebuilds afterwards).

The kernel knows no domain table: which days a change touches is the writer's business
(the CRM expands a deal's history in ``funnelwatch/crm/rollups.py``).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import local_day

logger = logging.getLogger("funnelwatch.metrics")

_suspended: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rollups_suspended", default=False
)


def listening(source: str) -> list[str]:
    """The rolled metrics a change from ``source`` can move: those that declare no
    ``refresh_on`` and those that name ``source`` in it."""
    from funnelwatch.metrics import registry

    return [
        m.key for m in registry.rolled_metrics() if m.refresh_on is None or source in m.refresh_on
    ]


def outside_keys(kind: str = "call") -> list[str]:
    """Deprecated (kept for this release): :func:`listening`."""
    return listening(kind)


# ``changed(..., keys=EVERY)``: recompute every rolled metric, whatever its ``refresh_on``.
EVERY = "*"


# Above this many (manager, day) pairs in one transaction, refresh the whole span at once.
BIG_BATCH_DAYS = 60


@contextmanager
def suspended() -> Iterator[None]:
    """Skip per-event refreshes inside the block (rebuild the rollups afterwards)."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def enabled() -> bool:
    return settings.FUNNELWATCH_METRICS_REFRESH_ON_EVENT and not _suspended.get()


class _Batch:
    """What one transaction changed: (metric keys or None for all) -> manager -> days."""

    def __init__(self) -> None:
        self.marks: dict[frozenset[str] | None, dict[int, set[dt.date]]] = {}
        self.done = False

    def add(
        self, managers: Iterable[int], days: Iterable[dt.date], keys: frozenset[str] | None
    ) -> None:
        per = self.marks.setdefault(keys, {})
        days = set(days)
        for m in managers:
            per.setdefault(m, set()).update(days)

    def flush(self, raise_errors: bool = False) -> None:
        """Rebuild what was marked. It runs after the change has committed: whatever
        goes wrong here must not turn a saved change into an error for the user, so a
        failed rebuild is tried again and, failing still, logged (``funnelwatch rollups
        rebuild`` repairs it)."""
        self.done = True
        for keys, per in self.marks.items():
            if keys is not None and not keys:
                # Nothing rolled to recompute: only drop answers reused for those days.
                from funnelwatch.metrics.engine import stamp

                for period in contiguous(set().union(*per.values())):
                    stamp(period)
                continue
            ordered = None
            if keys is not None:
                # A metric no longer registered (a row stored before an upgrade) is skipped.
                from funnelwatch.metrics import registry

                ordered = sorted(keys & {m.key for m in registry.rolled_metrics()})
                if not ordered:
                    continue
            if sum(len(days) for days in per.values()) > BIG_BATCH_DAYS:
                # A bulk load (the demo, an import, a burst of calls): one pass over each
                # stretch of marked days for the managers marked in it, not over the
                # whole span (calls of early November and a lead of today are two
                # stretches, not five weeks of everyone).
                for span in spans(set().union(*per.values())):
                    managers = {m for m, days in per.items() if any(d in span for d in days)}
                    _rebuild(span, managers, ordered, raise_errors)
                continue
            # Managers sharing the same days are refreshed together.
            by_days: dict[frozenset[dt.date], set[int]] = {}
            for m, days in per.items():
                by_days.setdefault(frozenset(days), set()).add(m)
            for shared, managers in by_days.items():
                for period in contiguous(shared):
                    _rebuild(period, managers, ordered, raise_errors)


# A rebuild that hits a database error (a deadlock, a dropped connection) is tried this
# many times in all.
ATTEMPTS = 3


def _rebuild(
    period: Period, managers: set[int], keys: list[str] | None, raise_errors: bool = False
) -> None:
    from funnelwatch.metrics.engine import rebuild

    if raise_errors:
        rebuild(period, managers, keys)
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            rebuild(period, managers, keys)
            return
        except DatabaseError:
            if attempt == ATTEMPTS:
                _not_refreshed(period, managers)
                return
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()
        except Exception:
            _not_refreshed(period, managers)
            return


def _not_refreshed(period: Period, managers: set[int]) -> None:
    logger.exception(
        "rollups of %s..%s for managers %s not refreshed; "
        "run: funnelwatch rollups rebuild --from %s --to %s",
        period.start,
        period.end,
        sorted(managers),
        period.start,
        period.end,
    )


_current: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "rollups_batch", default=None
)
_deferred: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "rollups_deferred", default=None
)


@contextmanager
def deferred() -> Iterator[None]:
    """Refresh once, at the end of the block, what every transaction committed inside it
    changed (a file imported in many batches: one refresh, not one per batch)."""
    if _deferred.get() is not None:
        yield
        return
    batch = _Batch()
    token = _deferred.set(batch)
    try:
        yield
    finally:
        _deferred.reset(token)
        if batch.marks:
            if connection.in_atomic_block:
                transaction.on_commit(batch.flush)
            else:
                batch.flush()


def _batch() -> _Batch:
    batch = _current.get()
    pending = [entry[1] for entry in connection.run_on_commit]
    if batch is None or batch.done or batch.flush not in pending:
        batch = _Batch()
        _current.set(batch)
        transaction.on_commit(batch.flush)
    return batch


# Marked days closer than this are rebuilt in one pass: a pass costs about as much for
# one day as for several (the weeks around it are summed again either way).
SPAN_GAP_DAYS = 7


def spans(days: Iterable[dt.date]) -> list[Period]:
    """Stretches of days, those less than SPAN_GAP_DAYS apart joined:
    {1, 3, 20} -> [1, 4), [20, 21)."""
    out: list[Period] = []
    for run in contiguous(days):
        if out and (run.start - out[-1].end).days < SPAN_GAP_DAYS:
            out[-1] = Period(out[-1].start, run.end)
        else:
            out.append(run)
    return out


def contiguous(days: Iterable[dt.date]) -> list[Period]:
    """Runs of consecutive days as periods: {1, 2, 3, 7} -> [1, 4), [7, 8)."""
    out: list[Period] = []
    for day in sorted(days):
        if out and out[-1].end == day:
            out[-1] = Period(out[-1].start, day + dt.timedelta(days=1))
        else:
            out.append(Period(day, day + dt.timedelta(days=1)))
    return out


def mark(
    manager_ids: Iterable[int], days: Iterable[dt.date], keys: Iterable[str] | None = None
) -> None:
    """Deprecated (kept for this release): ``changed("crm", ..., keys=keys or EVERY)``.

    Recompute these managers' rollups for these days (all rolled metrics when ``keys``
    is None) once the transaction commits."""
    changed("crm", manager_ids, days, keys=list(keys) if keys else EVERY)


def changed(
    source: str,
    managers: Iterable[int | None],
    days: Iterable[dt.date | dt.datetime],
    *,
    keys: Iterable[str] | str | None = None,
) -> None:
    """The one entry point of every change into the numbers.

    ``source`` names what changed ("deal_won", "call", "letter", "quality", "plan"...);
    ``managers`` the ids of the managers whose numbers may change (None entries are
    ignored); ``days`` local dates, or aware moments whose local day is meant. Only the
    pairs (manager, day) of the cross product are recomputed, once each (see the module
    docstring for when). ``keys``: the metrics to recompute; None (the default): those
    listening to ``source`` (``Metric.refresh_on``); :data:`EVERY`: all rolled metrics;
    an empty list: none, though answers reused for those days are dropped (a change to a
    number computed from raw records, such as plan fulfilment).

    Call it inside the writer's transaction: a rolled-back change refreshes nothing.
    """
    if not enabled():
        return
    ids = {int(m) for m in managers if m}
    local = {local_day(d) if isinstance(d, dt.datetime) else d for d in days}
    if not ids or not local:
        return
    if keys is None:
        wanted: frozenset[str] | None = frozenset(listening(source))
    elif keys == EVERY:
        wanted = None
    else:
        wanted = frozenset(keys)
    if wanted is not None and not wanted:
        # Nothing rolled to recompute: new tokens for the days (answers reused for them
        # are dropped), written now in the writer's transaction, rolled back with it.
        from funnelwatch.metrics.engine import stamp

        for period in contiguous(local):
            stamp(period)
        return
    if _background.get():
        _store_dirty(ids, local, wanted)
        return
    pending = _deferred.get()
    if pending is not None:
        pending.add(ids, local, wanted)
        return
    if not connection.in_atomic_block:
        # on_commit runs at once outside a transaction; batch nothing.
        batch = _Batch()
        batch.add(ids, local, wanted)
        batch.flush()
        return
    _batch().add(ids, local, wanted)


# --- refreshed by the worker -------------------------------------------------------------

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rollups_background", default=False
)


@contextmanager
def background() -> Iterator[None]:
    """Inside the block, changes are stored as dirty (manager, day) pairs and recomputed
    by the worker (:func:`flush_dirty`), not by the writer: a webhook event then costs
    what storing it costs, and a burst of events naming the same manager's day is
    recomputed once."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def _store_dirty(managers: set[int], days: set[dt.date], keys: frozenset[str] | None) -> None:
    from funnelwatch.metrics.models import DirtyDay

    text = "*" if keys is None else ",".join(sorted(keys))
    DirtyDay.objects.bulk_create(
        [DirtyDay(manager_id=m, day=d, keys=text) for m in managers for d in days]
    )


def _keys_of(text: str) -> frozenset[str] | None:
    if text == "*":
        return None
    return frozenset(k for k in text.split(",") if k)


def pending_dirty() -> int:
    from funnelwatch.metrics.models import DirtyDay

    return DirtyDay.objects.count()


def flush_dirty(limit: int = 20000) -> int:
    """Recompute the stored dirty pairs, each once; returns how many distinct pairs.

    The rows read are deleted in the same transaction as the recomputation: a change
    stored meanwhile (a later row) waits for the next run, and a failure leaves every
    row for the next run."""
    from funnelwatch.metrics.models import DirtyDay

    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                DirtyDay.objects.order_by("pk").values_list("pk", "manager_id", "day", "keys")[
                    :limit
                ]
            )
            if not rows:
                return done
            batch = _Batch()
            pairs = set()
            for _pk, manager, day, keys in rows:
                batch.add([manager], [day], _keys_of(keys))
                pairs.add((manager, day, keys))
            batch.flush(raise_errors=True)
            DirtyDay.objects.filter(pk__in=[r[0] for r in rows]).delete()
        done += len(pairs)
        if len(rows) < limit:
            return done
