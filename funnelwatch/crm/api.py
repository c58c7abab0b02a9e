from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import can_see_user, may_change_crm
from funnelwatch.crm import queries, services
from funnelwatch.crm.models import MONEY_DIGITS, MONEY_PLACES, LostReason, Stage

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
    def resolve_owner(obj) -> str:  # noqa: ANN001
        return obj.owner.username

    @staticmethod
    def resolve_stage(obj) -> str:  # noqa: ANN001
        return obj.stage.name

    @staticmethod
    def resolve_block(obj) -> str:  # noqa: ANN001
        return obj.stage.block


# What a money column holds (crm.models.money_field): checked here so a bad amount is a
# 422 naming the field before anything is written.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, allow_inf_nan=False),
]


class LeadIn(Schema):
    title: str
    owner: str | None = None
    amount: Money = Decimal("0")


class MoveIn(Schema):
    stage_id: int


class LoseIn(Schema):
    reason_id: int
    comment: str = ""


def _fail(exc: services.DealError) -> HttpError:
    return HttpError(422, f"{exc.field}: {exc.message}" if exc.field else exc.message)


@router.get("/deals", response=list[DealOut])
def list_deals(request, status: str | None = None, limit: int = 100, offset: int = 0):  # noqa: ANN001, ANN201
    qs = queries.deals_for(request.user).order_by("-created_at")
    if status:
        qs = qs.filter(status=status)
    return qs[offset : offset + min(limit, 1000)]


@router.get("/deals/{deal_id}", response=DealOut)
def get_deal(request, deal_id: int):  # noqa: ANN001, ANN201
    return get_object_or_404(queries.deals_for(request.user), pk=deal_id)


@router.post("/deals", response={201: DealOut})
def create_deal(request, data: LeadIn):  # noqa: ANN001, ANN201
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
    return 201, queries.deals_for(request.user).get(pk=deal.pk)


@router.post("/deals/{deal_id}/move", response=DealOut)
def move_deal(request, deal_id: int, data: MoveIn):  # noqa: ANN001, ANN201
    if not may_change_crm(request.user):
        raise HttpError(403, "quality reviewers cannot change CRM records")
    deal = get_object_or_404(queries.deals_for(request.user), pk=deal_id)
    stage = get_object_or_404(Stage, pk=data.stage_id)
    try:
        services.move_stage(deal, stage, actor=request.user)
    except services.DealError as exc:
        raise _fail(exc) from None
    return queries.deals_for(request.user).get(pk=deal.pk)


@router.post("/deals/{deal_id}/lose", response=DealOut)
def lose_deal(request, deal_id: int, data: LoseIn):  # noqa: ANN001, ANN201
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
