from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import can_see_user, may_change_crm
from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import ObjectId, Offset, Text, page_size
from funnelwatch.crm import queries, services
from funnelwatch.crm.models import MONEY_DIGITS, MONEY_PLACES, Deal, LostReason, Outcome, Stage

router = Router(tags=["crm"])


class DealOut(Schema):
    id: int
    title: str
    owner: str
    stage: str
    block: str
    status: str
    amount: Decimal
    currency: str
    created_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_owner(obj) -> str:
        return obj.owner.username

    @staticmethod
    def resolve_stage(obj) -> str:
        return obj.stage.name

    @staticmethod
    def resolve_block(obj) -> str:
        return obj.stage.block


# What a money column holds (crm.models.money_field): checked here so a bad amount is a
# 422 naming the field before anything is written.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, allow_inf_nan=False),
]


class LeadIn(Schema):
    title: Annotated[Text, Field(min_length=1, max_length=Deal._meta.get_field("title").max_length)]
    owner: Annotated[Text, Field(max_length=150)] | None = None
    amount: Money = Decimal("0")


class MoveIn(Schema):
    stage_id: ObjectId


class LoseIn(Schema):
    reason_id: ObjectId
    comment: Annotated[Text, Field(max_length=500)] = ""


Limit = page_size(1000)


def _fail(exc: services.DealError) -> HttpError:
    return HttpError(422, f"{exc.field}: {exc.message}" if exc.field else exc.message)


@router.get("/deals", response={200: list[DealOut], **errors(401, 422)})
def list_deals(
    request,
    status: Outcome | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
):
    """Deals the caller may see, newest first; ``limit`` at most 1000."""
    qs = queries.deals_for(request.user).order_by("-created_at")
    if status:
        qs = qs.filter(status=status)
    return qs[offset : offset + limit]


@router.get("/deals/{deal_id}", response={200: DealOut, **errors(401, 404, 422)})
def get_deal(request, deal_id: ObjectId):
    return get_object_or_404(queries.deals_for(request.user), pk=deal_id)


@router.post("/deals", response={201: DealOut, **errors(400, 401, 403, 422)})
def create_deal(request, data: LeadIn):
    if not may_change_crm(request.user):
        raise HttpError(403, "quality reviewers cannot change CRM records")
    owner = request.user
    if data.owner:
        owner = User.objects.filter(username=data.owner).first()
        if owner is None or not can_see_user(request.user, owner.pk):
            raise HttpError(422, "owner: no such user you may assign to")
    try:
        deal = services.create_lead(
            actor=request.user, title=data.title, owner=owner, amount=data.amount
        )
    except services.DealError as exc:
        raise _fail(exc) from None
    return Status(201, queries.deals_for(request.user).get(pk=deal.pk))


@router.post("/deals/{deal_id}/move", response={200: DealOut, **errors(400, 401, 403, 404, 422)})
def move_deal(request, deal_id: ObjectId, data: MoveIn):
    if not may_change_crm(request.user):
        raise HttpError(403, "quality reviewers cannot change CRM records")
    deal = get_object_or_404(queries.deals_for(request.user), pk=deal_id)
    stage = get_object_or_404(Stage, pk=data.stage_id)
    try:
        services.move_stage(deal, stage, actor=request.user)
    except services.DealError as exc:
        raise _fail(exc) from None
    return queries.deals_for(request.user).get(pk=deal.pk)


@router.post("/deals/{deal_id}/lose", response={200: DealOut, **errors(400, 401, 403, 404, 422)})
def lose_deal(request, deal_id: ObjectId, data: LoseIn):
    if not may_change_crm(request.user):
        raise HttpError(403, "quality reviewers cannot change CRM records")
    deal = get_object_or_404(queries.deals_for(request.user), pk=deal_id)
    reason = LostReason.objects.filter(pk=data.reason_id).first()
    if reason is None:
        raise HttpError(422, "reason_id: unknown lost reason")
    try:
        services.lose(deal, reason=reason, comment=data.comment, actor=request.user)
    except services.DealError as exc:
        raise _fail(exc) from None
    return queries.deals_for(request.user).get(pk=deal.pk)
