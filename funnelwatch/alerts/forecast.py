"""Expected won amount in the next 30 days, per manager, and how it was made.

For each open deal: chance = the company's own share of deals won among those that stood
in the same stage at least as long (age buckets of days in stage), smoothed with a Beta
prior centred on the overall win rate (so thin history leans on the prior); timing = the
share of those wins that came within 30 days; the deal contributes amount × chance ×
timing. The manager's total is then multiplied by the activity-trend effect: half the
relative change of their ``crm_actions`` over the last 5 working days against their usual,
kept within ±25%.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_users
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.rules import BASELINE_WEEKS, RECENT_DAYS, daily_values
from funnelwatch.alerts.stats import beta_mean, median
from funnelwatch.crm.models import Deal, Outcome, StageChange
from funnelwatch.lib.dates import Period, local_date
from funnelwatch.metrics import registry

HORIZON_DAYS = 30
HISTORY_DAYS = 365
# Age buckets: days in the current stage, [lower, upper).
BUCKETS = ((0, 7), (7, 30), (30, None))
PRIOR_STRENGTH = 4.0  # the prior counts as this many past deals
DEFAULT_WIN_RATE = 0.2  # used as the prior's centre before any deal has closed
TREND_WEIGHT = 0.5
TREND_LIMIT = 0.25


def bucket_of(days: float) -> int:
    for i, (lo, hi) in enumerate(BUCKETS):
        if days >= lo and (hi is None or days < hi):
            return i
    return 0


@dataclass
class Cell:
    trials: int = 0
    wins: int = 0
    wins_in_horizon: int = 0


@dataclass
class History:
    cells: dict[tuple[int, int], Cell]
    closed: int
    won: int

    @property
    def prior_rate(self) -> float:
        return self.won / self.closed if self.closed else DEFAULT_WIN_RATE

    def chance(self, stage_id: int, bucket: int) -> tuple[float, Cell]:
        cell = self.cells.get((stage_id, bucket), Cell())
        alpha = PRIOR_STRENGTH * self.prior_rate
        beta = PRIOR_STRENGTH * (1 - self.prior_rate)
        return beta_mean(cell.wins, cell.trials, alpha, beta), cell

    @staticmethod
    def timing(cell: Cell) -> float:
        return cell.wins_in_horizon / cell.wins if cell.wins else 1.0


def history(now: dt.datetime) -> History:
    """Stage visits of deals closed in the last year: for each (stage, age bucket), how many
    reached that age in the stage, how many of them were won, and won within the horizon."""
    deals = dict(
        Deal.objects.filter(
            status__in=[Outcome.WON, Outcome.LOST, Outcome.JUNK],
            closed_at__gte=now - dt.timedelta(days=HISTORY_DAYS),
            closed_at__lt=now,
        ).values_list("pk", "status")
    )
    closed_at = dict(Deal.objects.filter(pk__in=deals).values_list("pk", "closed_at"))
    cells: dict[tuple[int, int], Cell] = defaultdict(Cell)
    visits = StageChange.objects.filter(deal_id__in=deals, to_stage__outcome=Outcome.OPEN)
    for deal_id, stage_id, at, left_at in visits.values_list(
        "deal_id", "to_stage_id", "at", "left_at"
    ):
        stayed = ((left_at or closed_at[deal_id]) - at).total_seconds() / 86400
        won = deals[deal_id] == Outcome.WON
        for i, (lo, _hi) in enumerate(BUCKETS):
            if stayed < lo:
                break
            cell = cells[(stage_id, i)]
            cell.trials += 1
            if won:
                cell.wins += 1
                reached = at + dt.timedelta(days=lo)
                if closed_at[deal_id] - reached <= dt.timedelta(days=HORIZON_DAYS):
                    cell.wins_in_horizon += 1
    won = sum(1 for s in deals.values() if s == Outcome.WON)
    return History(dict(cells), len(deals), won)


@dataclass
class DealForecast:
    deal: Deal
    days_in_stage: int
    bucket: int
    trials: int
    wins: int
    chance: float
    timing: float
    expected: Decimal


@dataclass
class ManagerForecast:
    manager: User
    deals: list[DealForecast] = field(default_factory=list)
    trend_ratio: float | None = None
    effect: float = 1.0
    plan: object | None = None  # the plans app's progress of the manager's current plan

    @property
    def from_deals(self) -> Decimal:
        return sum((d.expected for d in self.deals), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return (self.from_deals * Decimal(str(self.effect))).quantize(Decimal("0.01"))


def activity_trend(manager_ids: set[int], now: dt.datetime) -> dict[int, float]:
    """Recent crm_actions over the usual (same windows as the activity-drop rule)."""
    if "crm_actions" not in {m.key for m in registry.all_metrics()} or not manager_ids:
        return {}
    today = local_date(now, timezone.get_current_timezone())
    start = today - dt.timedelta(days=7 * (BASELINE_WEEKS + 3))
    cal = WorkCalendar(start, today, manager_ids)
    values = daily_values("crm_actions", Period(start, today), manager_ids)
    out = {}
    for mid in manager_ids:
        recent = cal.last_workdays(mid, today, RECENT_DAYS, today - dt.timedelta(days=21))
        base = {d - dt.timedelta(days=7 * k) for d in recent for k in range(1, 5)} - set(recent)
        base_values = [values.get((mid, d), 0.0) for d in sorted(base) if cal.worked(mid, d)]
        usual = median(base_values) * len(recent)
        if usual > 0:
            out[mid] = sum(values.get((mid, d), 0.0) for d in recent) / usual
    return out


def trend_effect(ratio: float | None) -> float:
    if ratio is None:
        return 1.0
    change = TREND_WEIGHT * (ratio - 1)
    return round(1 + max(-TREND_LIMIT, min(TREND_LIMIT, change)), 4)


def forecast_for(viewer: User, now: dt.datetime | None = None) -> list[ManagerForecast]:
    now = now or timezone.now()
    people = list(visible_users(viewer).filter(role=Role.MANAGER))
    hist = history(now)
    trends = activity_trend({m.pk for m in people}, now)
    result = {
        m.pk: ManagerForecast(
            m, trend_ratio=trends.get(m.pk), effect=trend_effect(trends.get(m.pk))
        )
        for m in people
    }
    deals = Deal.objects.filter(status=Outcome.OPEN, owner_id__in=result).select_related("stage")
    for deal in deals.order_by("-amount"):
        days = (now - deal.stage_entered_at).total_seconds() / 86400
        bucket = bucket_of(days)
        chance, cell = hist.chance(deal.stage_id, bucket)
        timing = hist.timing(cell)
        expected = (deal.amount * Decimal(str(chance)) * Decimal(str(timing))).quantize(
            Decimal("0.01")
        )
        result[deal.owner_id].deals.append(
            DealForecast(
                deal,
                int(days),
                bucket,
                cell.trials,
                cell.wins,
                round(chance, 4),
                round(timing, 4),
                expected,
            )
        )
    return sorted(result.values(), key=lambda f: str(f.manager))


def attach_plans(rows: list[ManagerForecast], today: dt.date) -> None:
    """Put each manager's current won-amount plan (its progress) beside the forecast."""
    from funnelwatch.alerts.rules import plan_progress

    progress = plan_progress()
    if progress is None or not rows:
        return
    from funnelwatch.plans.models import Plan

    by_manager = {r.manager.pk: r for r in rows}
    for plan in Plan.objects.filter(
        metric="won_amount", manager_id__in=by_manager, first_day__lte=today, last_day__gte=today
    ).order_by("last_day"):
        by_manager[plan.manager_id].plan = progress(plan, today)
