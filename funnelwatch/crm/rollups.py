"""What the CRM tells the metrics kernel: which managers' days a change touched.

``crm_event`` (sent by the services inside their transaction) is turned here into
``funnelwatch.metrics.changed``: the deal's owner and the event's day, and for events that
change numbers dated on earlier days of the deal (cohorts by creation, by first
proposal, by reaching closing; a won deal's amount; a loss later revived) the deal's
history expanded to every (owner, day) it credits. Audit rows written outside the
services (an edit in the admin) change ``crm_actions``. The kernel itself reads no CRM
table; ``owner_at`` (the owner at a moment, for metric definitions) lives here too.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import BigIntegerField, F, Max, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce

from funnelwatch import metrics
from funnelwatch.metrics.common import local_day
from funnelwatch.metrics.refresh import EVERY

# Events that change numbers dated on earlier days of the deal. A re-assignment may be
# dated in the past, and the deal's records since then change hands (the old and the new
# owner's days are both recomputed).
HISTORY_EVENTS = {
    "deal_reassigned",
    "deal_won",
    "deal_lost",
    "deal_junk",
    "deal_reopened",
    "deal_updated",
    "proposal_sent",
    "archived",
}

# Kinds other apps send through ``crm_event`` (deprecated: they call
# ``metrics.changed`` now): they recompute only the metrics listening to them.
OUTSIDE_EVENTS = {"call", "letter"}


def owner_at(deal_ref: str = "deal", when_ref: str = "at") -> Coalesce:
    """The deal's owner at the moment ``when_ref`` (from its owner history), as an annotation.

    Falls back to the current owner for records older than the deal's history.
    """
    from funnelwatch.crm.models import OwnerChange

    history = (
        OwnerChange.objects.filter(deal=OuterRef(deal_ref), at__lte=OuterRef(when_ref))
        .order_by("-at", "-id")
        .values("to_owner")[:1]
    )
    current = f"{deal_ref}__owner" if deal_ref != "pk" else "owner"
    return Coalesce(Subquery(history), F(current), output_field=BigIntegerField())


def deal_history(deal: object) -> tuple[set[int], set[dt.date]]:
    """Every manager a deal's history credits and every local day it is dated on."""
    from funnelwatch.crm.models import OwnerChange, Proposal, StageChange

    managers: set[int] = {deal.owner_id}
    days = {local_day(deal.created_at)}
    for owner, when in StageChange.objects.filter(deal=deal).values_list("owner_id", "at"):
        managers.add(owner)
        days.add(local_day(when))
    managers.update(OwnerChange.objects.filter(deal=deal).values_list("to_owner_id", flat=True))
    first = (
        Proposal.objects.filter(deal=deal)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if first is not None:
        days.add(local_day(first))
    return managers, days


def on_crm_event(
    sender: object, kind: str, deal: object, at: dt.datetime, user_ids: set[int], **kwargs: object
) -> None:
    """``crm_event`` → ``metrics.changed``. CRM events recompute every rolled metric of
    the (manager, day) pairs; "call"/"letter" (sent by apps not yet calling the kernel
    themselves) only those listening to them."""
    if not metrics.refresh.enabled():
        return
    keys = None if kind in OUTSIDE_EVENTS else EVERY
    pairs = kwargs.get("pairs")
    if pairs is not None and deal is None:
        # The sender names each (manager, moment or day) its change touched.
        per: dict[int, set[object]] = {}
        for manager, when in pairs:
            if manager:
                per.setdefault(manager, set()).add(when)
        for manager, days in per.items():
            metrics.changed(kind, [manager], days, keys=keys)
        return
    days: set[object] = {at, *(kwargs.get("days") or ())}
    managers = set(user_ids)
    if deal is not None:
        managers.add(deal.owner_id)
        if kind in HISTORY_EVENTS:
            more_managers, more_days = deal_history(deal)
            managers |= more_managers
            days |= more_days
    metrics.changed(kind, managers, days, keys=keys)


def on_audit_event(sender: object, instance: object, created: bool, **kwargs: object) -> None:
    """An action a user did outside the services (recorded in the audit trail) counts in
    their ``crm_actions``."""
    from funnelwatch.audit.models import AuditEvent

    if created and instance.actor_id and instance.source == AuditEvent.Source.USER:
        metrics.changed("audit", [instance.actor_id], [instance.occurred_at], keys=["crm_actions"])


@metrics.registry.history_span
def crm_span() -> tuple[dt.datetime | None, dt.datetime | None]:
    """Deals from the first created to the last closed; audit events from the first."""
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.crm.models import Deal

    deals = Deal.objects.aggregate(first=Min("created_at"), last=Max("closed_at"))
    audit = AuditEvent.objects.aggregate(first=Min("occurred_at"))["first"]
    firsts = [x for x in (deals["first"], audit) if x]
    return (min(firsts) if firsts else None), deals["last"]
