"""Read-side queries for telephony pages, the API and commands, narrowed by visibility."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Prefetch, Q, QuerySet

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import visible_user_ids
from funnelwatch.telephony.models import Call, CallLeg, CallOutcome, Direction


def calls_for(user: User | None, own_only: bool = False) -> QuerySet[Call]:
    """Calls ``user`` may see (None: everything, for commands). A manager sees calls
    they made or took and calls of contacts and deals they own; with ``own_only``
    (recordings) just the calls they made or took."""
    qs = Call.objects.active().select_related("manager", "contact", "deal", "recording")
    if user is None:
        return qs
    ids = visible_user_ids(user)
    if ids is None:
        return qs
    if own_only:
        return qs.filter(manager_id__in=ids)
    return qs.filter(
        Q(manager_id__in=ids) | Q(contact__owner_id__in=ids) | Q(deal__owner_id__in=ids)
    )


def calls_between(
    since: dt.datetime, until: dt.datetime, user: User | None = None
) -> QuerySet[Call]:
    return (
        calls_for(user)
        .filter(started_at__gte=since, started_at__lt=until)
        .annotate(legs_count=Count("legs"))
        .order_by("started_at", "pk")
    )


def calls_as_json(calls: QuerySet[Call]) -> list[dict]:
    out = []
    for c in calls:
        out.append(
            {
                "id": c.pk,
                "provider": c.provider,
                "external_id": c.external_id,
                "direction": c.direction,
                "from": c.from_number or c.from_raw,
                "to": c.to_number or c.to_raw,
                "started_at": c.started_at.isoformat(),
                "answered": c.outcome == CallOutcome.ANSWERED,
                "outcome": c.outcome,
                "talk_seconds": c.talk_seconds,
                "manager": c.manager.username if c.manager_id else None,
                "contact": c.contact_id,
                "deal": c.deal_id,
                "legs": getattr(c, "legs_count", None),
            }
        )
    return out


def missed_calls(user: User | None) -> QuerySet[Call]:
    return calls_for(user).filter(direction=Direction.IN).exclude(outcome=CallOutcome.ANSWERED)


def with_legs(qs: QuerySet[Call]) -> QuerySet[Call]:
    return qs.prefetch_related(Prefetch("legs", queryset=CallLeg.objects.order_by("pk")))
