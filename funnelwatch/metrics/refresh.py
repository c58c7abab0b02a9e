"""Keeping the daily rollups current as the CRM changes.

Each ``crm_event`` marks the (managers, local days) it may have changed; right after the
transaction commits, those rows are recomputed from raw records (a few small queries per
metric, for the affected managers and days only). Audit rows written outside the CRM
services (a contact created, an edit in the admin) refresh ``crm_actions`` the same way.

Other apps (telephony, mail) call :func:`mark` for their events. Bulk loaders wrap their
work in :func:`suspended` and run ``funnelwatch rollups rebuild`` once at the end, or in
:func:`deferred` to refresh what they changed once when they finish.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import conf
from funnelwatch.metrics.common import local_day

logger = logging.getLogger("funnelwatch.metrics")

_suspended: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rollups_suspended", default=False
)

# Events that change numbers dated on earlier days of the deal (cohorts by creation, by
# first proposal, by reaching closing; a won deal's amount; a loss later revived).
HISTORY_EVENTS = {
    # Metrics credit the owner at the time (or at creation), never the current owner; but
    # a re-assignment may be dated in the past, and the deal's records since then change
    # hands (the old and the new owner's days are both recomputed).
    "deal_reassigned",
    "deal_won",
    "deal_lost",
    "deal_junk",
    "deal_reopened",
    "deal_updated",
    "proposal_sent",
    "archived",
}


# Events from outside the CRM (telephony's "call", mail's "letter"). They recompute the
# metrics that do not declare ``refresh_on`` and those that name the event in it (the
# rest read CRM records only).
OUTSIDE_EVENTS = {"call", "letter"}


def outside_keys(kind: str = "call") -> list[str]:
    from funnelwatch.metrics import registry

    return [
        m.key for m in registry.rolled_metrics() if m.refresh_on is None or kind in m.refresh_on
    ]


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
    return conf.REFRESH_ON_EVENT and not _suspended.get()


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

    def flush(self) -> None:
        """Rebuild what was marked. It runs after the change has committed: whatever
        goes wrong here must not turn a saved change into an error for the user, so a
        failed rebuild is tried again and, failing still, logged (``funnelwatch rollups
        rebuild`` repairs it)."""
        self.done = True
        for keys, per in self.marks.items():
            ordered = sorted(keys) if keys else None
            if sum(len(days) for days in per.values()) > BIG_BATCH_DAYS:
                # A bulk load (the demo, an import): one pass over the whole span.
                first = min(min(days) for days in per.values())
                last = max(max(days) for days in per.values())
                _rebuild(Period(first, last + dt.timedelta(days=1)), set(per), ordered)
                continue
            # Managers sharing the same days are refreshed together.
            by_days: dict[frozenset[dt.date], set[int]] = {}
            for m, days in per.items():
                by_days.setdefault(frozenset(days), set()).add(m)
            for days, managers in by_days.items():
                for period in contiguous(days):
                    _rebuild(period, managers, ordered)


# A rebuild that hits a database error (a deadlock, a dropped connection) is tried this
# many times in all.
ATTEMPTS = 3


def _rebuild(period: Period, managers: set[int], keys: list[str] | None) -> None:
    from funnelwatch.metrics.engine import rebuild

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
        except Exception:  # noqa: BLE001 - the change is saved; the rollups can be rebuilt
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
    pending = [cb for _sids, cb, _robust in connection.run_on_commit]
    if batch is None or batch.done or batch.flush not in pending:
        batch = _Batch()
        _current.set(batch)
        transaction.on_commit(batch.flush)
    return batch


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
    """Recompute these managers' rollups for these days once the transaction commits."""
    if not enabled():
        return
    managers = {m for m in manager_ids if m}
    if not managers:
        return
    pending = _deferred.get()
    if pending is not None:
        pending.add(managers, days, frozenset(keys) if keys else None)
        return
    if not connection.in_atomic_block:
        # on_commit runs at once outside a transaction; batch nothing.
        batch = _Batch()
        batch.add(managers, days, frozenset(keys) if keys else None)
        batch.flush()
        return
    _batch().add(managers, days, frozenset(keys) if keys else None)


def on_crm_event(
    sender: object, kind: str, deal: object, at: dt.datetime, user_ids: set[int], **kwargs: object
) -> None:
    if not enabled():
        return
    keys = outside_keys(kind) if kind in OUTSIDE_EVENTS else None
    pairs = kwargs.get("pairs")
    if pairs is not None and deal is None:
        # The sender names each (manager, moment or day) its change touched: a batch of
        # calls or letters changes each manager's own days, not every manager's every day.
        per: dict[int, set[dt.date]] = {}
        for manager, when in pairs:
            if manager:
                day = local_day(when) if isinstance(when, dt.datetime) else when
                per.setdefault(manager, set()).add(day)
        for manager, days in per.items():
            mark([manager], days, keys)
        return
    days = {local_day(at)}
    # A batch (of calls, of e-mails) may span several days: senders may name them all.
    for day in kwargs.get("days") or ():
        days.add(local_day(day) if isinstance(day, dt.datetime) else day)
    managers = set(user_ids)
    if deal is not None:
        from funnelwatch.crm.models import OwnerChange, Proposal, StageChange

        managers.add(deal.owner_id)
        if kind in HISTORY_EVENTS:
            days.add(local_day(deal.created_at))
            for owner, when in StageChange.objects.filter(deal=deal).values_list("owner_id", "at"):
                managers.add(owner)
                days.add(local_day(when))
            managers.update(
                OwnerChange.objects.filter(deal=deal).values_list("to_owner_id", flat=True)
            )
            first = (
                Proposal.objects.filter(deal=deal)
                .order_by("sent_at")
                .values_list("sent_at", flat=True)
                .first()
            )
            if first is not None:
                days.add(local_day(first))
    mark(managers, days, keys)


def on_audit_event(sender: object, instance: object, created: bool, **kwargs: object) -> None:
    from funnelwatch.audit.models import AuditEvent

    if created and instance.actor_id and instance.source == AuditEvent.Source.USER:
        mark([instance.actor_id], [local_day(instance.at)], ["crm_actions"])
