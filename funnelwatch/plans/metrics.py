"""The plans' number: plan fulfilment, % (revenue against the revenue plans)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from funnelwatch.accounts.models import User
from funnelwatch.crm.metrics import won_records
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.engine import group_values
from funnelwatch.metrics.registry import Metric, register
from funnelwatch.plans.models import Plan


def _plan_pct(period: Period, groups: dict) -> dict:
    """Revenue against the revenue plans covering the period, pro rata by days.

    A manager row reads the manager's plans, a team row the team's (a group of managers
    that is exactly a team), the department row the department's.
    """
    plans = list(
        Plan.objects.filter(
            metric__in=["won_amount", "revenue"],
            first_day__lt=period.end,
            last_day__gte=period.start,
        )
    )
    if not plans:
        return {key: None for key in groups}
    teams: dict[int, set[int]] = defaultdict(set)
    for uid, tid in User.objects.filter(team__isnull=False, is_active=True).values_list(
        "pk", "team_id"
    ):
        teams[tid].add(uid)
    revenue = group_values(["revenue"], period, groups)
    out = {}
    for key, members in groups.items():
        target = Decimal(0)
        for plan in plans:
            if members is None:
                mine = plan.manager_id is None and plan.team_id is None
            elif plan.manager_id is not None:
                mine = members == {plan.manager_id}
            else:
                mine = plan.team_id is not None and members == teams.get(plan.team_id)
            if mine:
                days = (min(plan.end, period.end) - max(plan.first_day, period.start)).days
                target += plan.target * days / ((plan.end - plan.first_day).days or 1)
        fact = revenue[key]["revenue"]
        out[key] = round(float(Decimal(fact) / target * 100), 2) if target else None
    return out


register(
    Metric(
        key="plan_pct",
        block="sales",
        label=_("Plan fulfilment, %"),
        unit="pct",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_plan_pct,
        records=won_records,
        description=_("Revenue / the revenue plans for the period (pro rata by days)."),
    )
)
