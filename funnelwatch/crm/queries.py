"""Read-side queries for CRM pages and the API, always narrowed by visibility."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import limit_by, limit_to_owner
from funnelwatch.crm.models import Contact, Deal, Meeting, Outcome, Stage, StageChange, Task


def deals_for(user: User) -> QuerySet[Deal]:
    return limit_to_owner(user, Deal.objects.all()).select_related(
        "owner", "stage", "contact", "company", "source"
    )


def contacts_for(user: User) -> QuerySet[Contact]:
    """Contacts the user owns or that have a deal the user may see."""
    return limit_by(user, Contact.objects.all(), "owner", "deals__owner").select_related("company")


def tasks_for(user: User) -> QuerySet[Task]:
    return limit_by(user, Task.objects.active(), "assignee", "author").select_related(
        "assignee", "deal", "contact"
    )


BOARD_CARDS = 60


def board(user: User, pipeline_id: int, owner_id: int | None = None) -> list[dict]:
    """Open deals of a pipeline by stage, in stage order: each column's count and amount
    over all its deals, and the cards of the longest-waiting ones (flagged when stalled).

    Reads a bounded number of rows however many deals are open: one aggregate query and
    one query per column.
    """
    stages = list(Stage.objects.filter(pipeline_id=pipeline_id, outcome=Outcome.OPEN))
    deals = (
        deals_for(user)
        .filter(pipeline_id=pipeline_id, status=Outcome.OPEN)
        .select_related(None)
        .select_related("owner")  # all a card shows besides the deal itself
    )
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    totals = {
        row["stage_id"]: row
        for row in deals.order_by().values("stage_id").annotate(n=Count("id"), amount=Sum("amount"))
    }
    now = timezone.now()
    columns = []
    for stage in stages:
        cards = list(deals.filter(stage_id=stage.pk).order_by("stage_entered_at")[:BOARD_CARDS])
        for deal in cards:
            deal.days_in_stage = (now - deal.stage_entered_at).days
            deal.stalled = stage.norm_days is not None and (
                now - deal.stage_entered_at > dt.timedelta(days=stage.norm_days)
            )
        total = totals.get(stage.pk, {"n": 0, "amount": 0})
        columns.append(
            {"stage": stage, "deals": cards, "count": total["n"], "amount": total["amount"] or 0}
        )
    return columns


def stage_durations(deal: Deal) -> list[StageChange]:
    """The deal's stage history, each row with ``duration`` (time spent in that stage)."""
    return list(
        deal.stage_changes.select_related("from_stage", "to_stage", "by", "owner").annotate(
            spent=ExpressionWrapper(
                Coalesce(F("left_at"), Now()) - F("at"), output_field=DurationField()
            )
        )
    )


def time_in_stages(deal_ids: QuerySet | list[int]) -> dict[int, dt.timedelta]:
    """Total time deals spent per stage (stage id -> duration), from the history table."""
    rows = (
        StageChange.objects.filter(deal_id__in=deal_ids, left_at__isnull=False)
        .values("to_stage")
        .annotate(
            total=Sum(ExpressionWrapper(F("left_at") - F("at"), output_field=DurationField()))
        )
    )
    return {r["to_stage"]: r["total"] for r in rows}


def upcoming_meetings(user: User, day_start: dt.datetime, day_end: dt.datetime) -> QuerySet:
    return (
        limit_to_owner(user, Meeting.objects.active())
        .filter(
            scheduled_at__gte=day_start, scheduled_at__lt=day_end, status=Meeting.Status.PLANNED
        )
        .select_related("deal", "owner")
    )


def search_deals(user: User, q: str) -> QuerySet[Deal]:
    qs = deals_for(user)
    if q:
        qs = qs.filter(
            Q(title__icontains=q) | Q(contact__name__icontains=q) | Q(company__name__icontains=q)
        )
    return qs
