"""How far a plan is: the fact so far, the share done, the pace needed to close the gap
and the best recent pace — from the metric engine, so a plan's fact is the same number
the key-numbers table shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from funnelwatch.accounts.models import Role, User
from funnelwatch.lib.dates import Period
from funnelwatch.plans.models import Plan


def members(plan: Plan) -> set[int] | None:
    """The managers whose numbers count toward the plan (None: everyone)."""
    if plan.manager_id:
        return {plan.manager_id}
    if plan.team_id:
        return set(
            User.objects.filter(
                team_id=plan.team_id, is_active=True, role__in=[Role.MANAGER, Role.TEAM_LEAD]
            ).values_list("pk", flat=True)
        )
    return None


def working_days(period: Period) -> int:
    from funnelwatch.accounts.models import Holiday

    holidays = set(
        Holiday.objects.filter(day__gte=period.start, day__lt=period.end).values_list(
            "day", flat=True
        )
    )
    return sum(
        1 for d in period if d.weekday() in settings.FUNNELWATCH_WORKDAYS and d not in holidays
    )


def _fact(metric: str, period: Period, ids: set[int] | None) -> Decimal:
    from funnelwatch.metrics import engine

    if period.days <= 0:
        return Decimal(0)
    value = engine.group_values([metric], period, {"g": ids})["g"][metric]
    return Decimal(str(value or 0))


@dataclass
class Progress:
    plan: Plan
    fact: Decimal
    pct: Decimal | None
    expected_pct: Decimal | None  # where a steady pace would be by today
    days_left: int  # working days
    pace_needed: Decimal | None  # per working day, to reach the target
    best_pace: Decimal  # best working-day pace over the last 8 weeks (weekly windows)

    @property
    def at_risk(self) -> bool:
        return self.pace_needed is not None and self.pace_needed > self.best_pace


def progress(plan: Plan, today: dt.date) -> Progress:
    ids = members(plan)
    done_until = min(max(today, plan.first_day), plan.end)
    fact = _fact(plan.metric, Period(plan.first_day, done_until), ids)
    total_days = working_days(Period(plan.first_day, plan.end))
    elapsed = working_days(Period(plan.first_day, done_until))
    left = total_days - elapsed
    gap = plan.target - fact
    pct = (fact / plan.target * 100).quantize(Decimal("0.1")) if plan.target else None
    expected = (
        (Decimal(elapsed) / total_days * 100).quantize(Decimal("0.1")) if total_days else None
    )
    pace_needed = None
    if gap > 0 and left > 0:
        pace_needed = (gap / left).quantize(Decimal("0.01"))
    elif gap > 0:
        pace_needed = gap  # no working days left: the whole gap, at once
    best = Decimal(0)
    for weeks_back in range(1, 9):
        end = today - dt.timedelta(days=7 * (weeks_back - 1))
        window = Period(end - dt.timedelta(days=7), end)
        days = working_days(window)
        if days:
            best = max(best, _fact(plan.metric, window, ids) / days)
    return Progress(plan, fact, pct, expected, left, pace_needed, best.quantize(Decimal("0.01")))


def plans_for(user: User, today: dt.date):
    """Current plans the user may see: their own, their team's, and the department's;
    the head sees all."""
    from django.db.models import Q

    from funnelwatch.accounts.visibility import visible_user_ids

    plans = Plan.objects.filter(last_day__gte=today - dt.timedelta(days=62)).select_related(
        "manager", "team"
    )
    ids = visible_user_ids(user)
    if ids is None:
        return plans
    team_ids = set(User.objects.filter(pk__in=ids).values_list("team_id", flat=True)) - {None}
    return plans.filter(
        Q(manager_id__in=ids) | Q(team_id__in=team_ids) | Q(manager__isnull=True, team__isnull=True)
    )
