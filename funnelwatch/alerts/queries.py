"""Read side of the alerts app, always narrowed by visibility."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import limit_to_owner
from funnelwatch.alerts.models import Alert, Kind, LostReview, Status
from funnelwatch.alerts.rules import call_model
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.lib.dates import Period, period_bounds


def alerts_for(user: User, status: str | None = None, kind: str | None = None) -> QuerySet[Alert]:
    qs = limit_to_owner(user, Alert.objects.all(), "manager").select_related("manager")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def subject_label(alert: Alert) -> str:
    """What the alert is about, for the API: "deal:12", "call:7", "manager:alice"."""
    if alert.kind == Kind.LEAD_NOT_CALLED and alert.subject_id:
        return f"lead:{alert.subject_id}"
    if alert.kind == Kind.MISSED_CALL_NOT_RETURNED and alert.subject_id:
        return f"call:{alert.subject_id}"
    if alert.kind in (Kind.STALLED_DEAL, Kind.MEETING_WITHOUT_PROPOSAL) and alert.subject_id:
        return f"deal:{alert.subject_id}"
    if alert.kind == Kind.PLAN_AT_RISK and alert.subject_id:
        return f"plan:{alert.subject_id}"
    return f"manager:{alert.manager.username}" if alert.manager else "company"


def as_json(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "manager": alert.manager.username if alert.manager else None,
        "subject": subject_label(alert),
        "numbers": alert.numbers,
        "message": alert.message,
        "opened_at": alert.opened_at.isoformat(),
        "status": alert.status,
    }


# --- lost-deal review -------------------------------------------------------


@dataclass
class LostSummary:
    lost: int
    reviewed: int
    returned: int
    won_later: int

    @property
    def returned_pct(self) -> float | None:
        return round(self.returned / self.reviewed * 100, 1) if self.reviewed else None


def lost_to_review(user: User, period: Period) -> QuerySet[Deal]:
    """Deals lost in the period whose loss nobody has reviewed yet."""
    start, end = period_bounds(period, timezone.get_current_timezone())
    # A subquery, not a list of ids: at 200 managers two weeks hold ~20k lost deals.
    reviewed = LostReview.objects.filter(
        deal_id=OuterRef("pk"), lost_at__gte=start, lost_at__lt=end
    )
    qs = limit_to_owner(
        user, Deal.objects.filter(status=Outcome.LOST, closed_at__gte=start, closed_at__lt=end)
    )
    qs = qs.exclude(Exists(reviewed))
    return qs.select_related("owner", "lost_reason", "stage").order_by("-closed_at")


def reviews(user: User, period: Period) -> QuerySet[LostReview]:
    start, end = period_bounds(period, timezone.get_current_timezone())
    return limit_to_owner(
        user, LostReview.objects.filter(lost_at__gte=start, lost_at__lt=end), "owner"
    ).select_related("deal", "owner", "reviewed_by", "lost_reason")


def lost_summary(user: User, period: Period) -> LostSummary:
    done = reviews(user, period)
    returned = done.filter(decision=LostReview.Decision.RETURNED)
    return LostSummary(
        lost=lost_to_review(user, period).count() + done.count(),
        reviewed=done.count(),
        returned=returned.count(),
        won_later=returned.filter(deal__status=Outcome.WON).count(),
    )


def calls_per_deal(deal_ids: list[int]) -> dict[int, int]:
    """Calls on each deal, when telephony is installed ({} otherwise)."""
    call = call_model()
    if call is None or not deal_ids:
        return {}
    rows = call.objects.filter(deal_id__in=deal_ids).values("deal_id").annotate(n=Count("id"))
    return {r["deal_id"]: r["n"] for r in rows}


def open_alerts_per_manager(manager_ids: set[int]) -> dict[int, int]:
    rows = (
        Alert.objects.filter(manager_id__in=manager_ids, status=Status.OPEN)
        .values("manager_id")
        .annotate(n=Count("id"))
    )
    return {r["manager_id"]: r["n"] for r in rows}


def new_alerts(user: User, since: dt.datetime) -> QuerySet[Alert]:
    return alerts_for(user, status=Status.OPEN).filter(opened_at__gte=since)
