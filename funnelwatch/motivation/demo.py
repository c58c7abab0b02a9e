"""The demo's commission scheme, for every team, and last month's statements approved by
the head (this month's accrue as deals are won)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Team
from funnelwatch.audit.trail import acting_as
from funnelwatch.core.demo import DemoContext
from funnelwatch.motivation import payouts
from funnelwatch.motivation.models import Assignment, KpiBonus, Scheme, Tier


def generate(ctx: DemoContext) -> None:
    head = ctx.users["head"]
    today = timezone.localdate(ctx.now)
    start = payouts.month_start(ctx.start.date()) if ctx.start else today.replace(day=1)
    with acting_as(head, at=ctx.now):
        scheme = Scheme.objects.create(
            name=_("Sales team %(year)s") % {"year": today.year},
            fixed_amount=Decimal("1500000"),
            base="gross_profit",
            rate_pct=Decimal("3"),
            referral_fee=Decimal("50000"),
            valid_from=start,
            note=_(
                "3 per cent of gross profit; 5 per cent from 80 per cent of the revenue plan, "
                "7 per cent and a bonus from 100 per cent; 50 000 for each qualified lead "
                "passed to a colleague."
            ),
        )
        Tier.objects.create(scheme=scheme, min_fulfilment_pct=80, rate_pct=5)
        Tier.objects.create(scheme=scheme, min_fulfilment_pct=100, rate_pct=7, bonus=500000)
        KpiBonus.objects.create(
            scheme=scheme,
            metric="leads_called_sla_pct",
            comparison="gte",
            target=Decimal("80"),
            amount=Decimal("200000"),
        )
        KpiBonus.objects.create(
            scheme=scheme,
            metric="speed_to_first_call",
            comparison="lte",
            target=Decimal("15"),
            amount=Decimal("100000"),
        )
        for team in Team.objects.order_by("pk"):
            Assignment.objects.create(scheme=scheme, team=team, valid_from=start)
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    approved = 0
    if last_month >= start:
        for manager in payouts.payees():
            if payouts.scheme_for(manager, last_month) is not None:
                payouts.approve(manager, last_month, head, today=today)
                approved += 1
    ctx.notes.append(
        f"motivation: scheme “{scheme.name}”; {approved} statements of {last_month:%B %Y} "
        "approved, this month's accruing"
    )
