"""Demo plans: this month's revenue plan for every manager and team and the department,
set a little above each one's recent months — and out of reach for the manager whose
activity fell, so the plan-at-risk warning has something to say."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from funnelwatch.audit.trail import acting_as
from funnelwatch.core.demo import DemoContext
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.plans.models import Plan, PlanStep


def _recent_monthly_revenue(user_ids: list[int], now: dt.datetime) -> Decimal:
    total = Deal.objects.filter(
        owner_id__in=user_ids,
        status=Outcome.WON,
        closed_at__gte=now - dt.timedelta(days=90),
        closed_at__lt=now,
    ).aggregate(s=Sum("amount"))["s"]
    return (total or Decimal(0)) / 3


def generate(ctx: DemoContext) -> None:
    today = timezone.localdate(ctx.now)
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    head = ctx.users["head"]
    dropper = ctx.planted.get("activity_drop_manager")
    month = date_format(first, "F Y")
    plans = []
    with acting_as(head, at=ctx.now):
        for manager in ctx.managers:
            usual = _recent_monthly_revenue([manager.pk], ctx.now)
            stretch = Decimal("1.8") if manager.username == dropper else Decimal("1.1")
            target = max(Decimal(1_000_000), (usual * stretch).quantize(Decimal(1_000_000)))
            plans.append(
                Plan.objects.create(
                    title=_("Revenue %(month)s: %(who)s")
                    % {"month": month, "who": manager.get_full_name()},
                    metric="won_amount",
                    target=target,
                    manager=manager,
                    first_day=first,
                    last_day=last,
                    relevance=_("The department's monthly revenue plan, split by manager."),
                    achievable_note=_(
                        "About %(pct)s above the last three months' average of %(usual)s."
                    )
                    % {
                        "pct": f"{stretch - 1:.0%}",
                        "usual": number_format(usual, 0, force_grouping=True),
                    },
                    created_by=head,
                )
            )
        teams = {m.team for m in ctx.managers if m.team_id}
        for team in sorted(teams, key=lambda t: t.pk):
            ids = [m.pk for m in ctx.managers if m.team_id == team.pk]
            target = (_recent_monthly_revenue(ids, ctx.now) * Decimal("1.1")).quantize(
                Decimal(1_000_000)
            )
            plans.append(
                Plan.objects.create(
                    title=_("Revenue %(month)s: team %(team)s") % {"month": month, "team": team},
                    metric="won_amount",
                    target=max(target, Decimal(1_000_000)),
                    team=team,
                    first_day=first,
                    last_day=last,
                    created_by=head,
                )
            )
        proposals = Plan.objects.create(
            title=_("Proposals %(month)s") % {"month": month},
            metric="proposals_sent",
            target=Decimal(400),
            first_day=first,
            last_day=last,
            created_by=head,
            relevance=_("More proposals sent is more deals to close next month."),
        )
        plans.append(proposals)
        # Steps: how the plans are to be reached, who does each and how far it has come.
        leads = [u for u in ctx.users.values() if getattr(u, "role", "") == "team_lead"]
        steps = 0
        for i, lead in enumerate(leads or [head]):
            PlanStep.objects.create(
                plan=proposals,
                title=_("Review every open deal without a proposal with its owner"),
                resources=_("Thirty minutes a day at the morning meeting"),
                owner=lead,
                due_date=first + dt.timedelta(days=9 + i),
                progress_pct=min(100, 40 + 30 * i),
            )
            steps += 1
        for i, plan in enumerate(p for p in plans if p.manager_id):
            PlanStep.objects.create(
                plan=plan,
                title=_("Call back every client who bought last quarter"),
                resources=_("The client list from the CRM, an hour a day"),
                owner=plan.manager,
                due_date=first + dt.timedelta(days=14),
                progress_pct=(i * 25) % 100,
            )
            steps += 1
    ctx.notes.append(
        f"plans: {len(plans)} plans for {first:%B %Y} with {steps} steps; "
        f"{dropper}'s is out of reach"
    )
