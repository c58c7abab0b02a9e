"""A manager's payout for a month, line by line, each line naming the records behind it.

The same function answers the manager (their statement as it accrues), the head, the
export and ``funnelwatch payouts``; an approved month is read from its stored lines.
Money is Decimal throughout, each line rounded to cents, and the total is the sum of
the lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from funnelwatch.accounts.models import Role, User
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.lib.dates import Period
from funnelwatch.motivation import referrals
from funnelwatch.motivation.models import (
    Assignment,
    Base,
    Comparison,
    Scheme,
    Statement,
    StatementLine,
)

CENT = Decimal("0.01")
FIXED, COMMISSION, TIER_BONUS, REFERRAL, KPI_BONUS = (
    "fixed",
    "commission",
    "tier_bonus",
    "referral",
    "kpi_bonus",
)
PLAN_METRICS = ("won_amount", "revenue")
KIND_LABELS = {
    FIXED: gettext_lazy("fixed part"),
    COMMISSION: gettext_lazy("commission"),
    TIER_BONUS: gettext_lazy("tier bonus"),
    REFERRAL: gettext_lazy("deal passed"),
    KPI_BONUS: gettext_lazy("KPI bonus"),
}


class PayoutError(Exception):
    """A payout that cannot be approved, with the reason for the head."""


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_period(month: dt.date) -> Period:
    return Period(month, next_month(month))


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` as the month's first day; ValueError otherwise."""
    try:
        parsed = dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except (ValueError, AttributeError):
        raise ValueError(text) from None
    if not 1900 <= parsed.year <= 2999:
        raise ValueError(text)
    return parsed


@dataclass
class Line:
    kind: str
    description: str
    amount: Decimal
    source: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "description": self.description,
            "amount": str(self.amount),
            "source": list(self.source),
        }


@dataclass
class Payout:
    manager: User
    month: dt.date
    scheme: Scheme | None
    scheme_name: str
    lines: list[Line]
    fulfilment_pct: Decimal | None = None
    statement: Statement | None = None  # set when approved (frozen)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def approved(self) -> bool:
        return self.statement is not None

    def as_json(self) -> dict:
        return {
            "manager": self.manager.username,
            "manager_id": self.manager.pk,
            "month": f"{self.month:%Y-%m}",
            "scheme": self.scheme_name or None,
            "status": "approved" if self.approved else "accruing",
            "total": str(self.total),
            "lines": [line.as_json() for line in self.lines],
        }


def _overlaps(qs, period: Period):
    last = period.end - dt.timedelta(days=1)
    return qs.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=period.start)).filter(
        valid_from__lte=last
    )


def scheme_for(manager: User, month: dt.date) -> Scheme | None:
    """The manager's scheme for the month: their own assignment, else their team's (the
    latest one starting by the month's end, among schemes valid in the month)."""
    period = month_period(month)
    valid = _overlaps(Scheme.objects.all(), period)
    assignments = _overlaps(Assignment.objects.filter(scheme__in=valid), period).select_related(
        "scheme"
    )
    own = assignments.filter(manager=manager).order_by("-valid_from", "-pk").first()
    if own is not None:
        return own.scheme
    if manager.team_id:
        team = assignments.filter(team_id=manager.team_id).order_by("-valid_from", "-pk").first()
        if team is not None:
            return team.scheme
    return None


def _paid_elsewhere(manager: User, month: dt.date, kind: str) -> set[str]:
    """Sources already paid under ``kind`` in the manager's approved statements of other
    months (a deal won again after a reopening is not paid twice)."""
    seen: set[str] = set()
    for source in (
        StatementLine.objects.filter(statement__manager=manager, kind=kind)
        .exclude(statement__month=month)
        .values_list("source", flat=True)
    ):
        seen.update(s for s in source if s.startswith("deal:"))
    return seen


def _won_deals(manager: User, period: Period) -> list[Deal]:
    """Deals the manager won in the period (owner at the win, as the key numbers credit
    them) that are still won."""
    from funnelwatch.crm.metrics import wins

    ids = wins(period, {manager.pk}).values("deal_id")
    return list(Deal.objects.filter(pk__in=ids, status=Outcome.WON).order_by("closed_at", "pk"))


def _base_of(scheme: Scheme, deal: Deal) -> Decimal:
    if scheme.base == Base.AMOUNT:
        return deal.amount
    if scheme.margin_pct is not None:
        return cents(deal.amount * scheme.margin_pct / 100)
    return deal.amount - deal.cost


def _value(metric: str, period: Period, manager: User) -> object:
    from funnelwatch.metrics import engine

    return engine.group_values([metric], period, {"m": {manager.pk}})["m"][metric]


def _plans(manager: User, period: Period) -> list[int]:
    from funnelwatch.plans.models import Plan

    return list(
        Plan.objects.filter(
            manager=manager,
            metric__in=PLAN_METRICS,
            first_day__lt=period.end,
            last_day__gte=period.start,
        ).values_list("pk", flat=True)
    )


def _pct_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _money_text(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ")


def compute(manager: User, month: dt.date, scheme: Scheme | None = None) -> Payout:
    """The month's payout from the records (ignoring any approved statement)."""
    from funnelwatch.metrics import registry

    month = month_start(month)
    period = month_period(month)
    scheme = scheme or scheme_for(manager, month)
    if scheme is None:
        return Payout(manager, month, None, "", [])
    lines: list[Line] = []
    if scheme.fixed_amount:
        lines.append(
            Line(FIXED, _("Fixed part"), cents(scheme.fixed_amount), [f"scheme:{scheme.pk}"])
        )

    tiers = list(scheme.tiers.order_by("min_fulfilment_pct"))
    fulfilment = None
    plan_sources: list[str] = []
    tier = None
    if tiers:
        raw = _value("plan_pct", period, manager)
        fulfilment = None if raw is None else Decimal(str(raw)).quantize(Decimal("0.01"))
        plan_sources = [f"plan:{pk}" for pk in _plans(manager, period)]
        if fulfilment is not None:
            reached = [t for t in tiers if t.min_fulfilment_pct <= fulfilment]
            tier = reached[-1] if reached else None
    rate = tier.rate_pct if tier is not None else scheme.rate_pct

    if scheme.base != Base.NONE and rate:
        paid = _paid_elsewhere(manager, month, COMMISSION)
        base_label = _("won amount") if scheme.base == Base.AMOUNT else _("gross profit")
        for deal in _won_deals(manager, period):
            if f"deal:{deal.pk}" in paid:
                continue
            base = _base_of(scheme, deal)
            if base <= 0:
                continue  # a loss-making deal earns no commission (and takes none away)
            amount = cents(base * rate / 100)
            lines.append(
                Line(
                    COMMISSION,
                    _("Deal #%(id)s “%(title)s”: %(rate)s%% of %(base)s (%(what)s)")
                    % {
                        "id": deal.pk,
                        "title": deal.title,
                        "rate": _pct_text(rate),
                        "base": _money_text(base),
                        "what": base_label,
                    },
                    amount,
                    [f"deal:{deal.pk}"],
                )
            )
    if tier is not None and tier.bonus:
        lines.append(
            Line(
                TIER_BONUS,
                _("Plan fulfilment %(pct)s%% reached the tier from %(min)s%%")
                % {"pct": _pct_text(fulfilment), "min": _pct_text(tier.min_fulfilment_pct)},
                cents(tier.bonus),
                plan_sources + ["metric:plan_pct"],
            )
        )
    if scheme.referral_fee:
        paid = _paid_elsewhere(manager, month, REFERRAL)
        for item in referrals.referrals(manager, period):
            if f"deal:{item.deal_id}" in paid:
                continue
            lines.append(
                Line(
                    REFERRAL,
                    _("Qualified deal #%(id)s “%(title)s” passed to a colleague")
                    % {"id": item.deal_id, "title": item.title},
                    cents(scheme.referral_fee),
                    [f"deal:{item.deal_id}"],
                )
            )
    for bonus in scheme.kpi_bonuses.all():
        try:
            metric = registry.get(bonus.metric)
        except KeyError:
            continue
        raw = _value(bonus.metric, period, manager)
        value = None if raw is None else Decimal(str(raw))
        if bonus.comparison == Comparison.AT_MOST:
            met = value is not None and value <= bonus.target
        else:
            met = value is not None and value >= bonus.target
        shown = "—" if value is None else _pct_text(value.quantize(Decimal("0.01")))
        lines.append(
            Line(
                KPI_BONUS,
                _("%(metric)s: %(value)s, target %(cmp)s %(target)s%(outcome)s")
                % {
                    "metric": metric.label,
                    "value": shown,
                    "cmp": bonus.get_comparison_display(),
                    "target": _pct_text(bonus.target),
                    "outcome": "" if met else _(" (not reached)"),
                },
                cents(bonus.amount) if met else Decimal("0.00"),
                [f"metric:{bonus.metric}"],
            )
        )
    return Payout(manager, month, scheme, scheme.name, lines, fulfilment)


def _frozen(statement: Statement) -> Payout:
    lines = [
        Line(line.kind, line.description, line.amount, list(line.source))
        for line in statement.lines.all()
    ]
    return Payout(
        statement.manager,
        statement.month,
        statement.scheme,
        statement.scheme_name,
        lines,
        statement=statement,
    )


def payout(manager: User, month: dt.date) -> Payout:
    """The statement as it stands: the approved one, or the one accruing."""
    month = month_start(month)
    statement = (
        Statement.objects.filter(manager=manager, month=month)
        .select_related("manager", "scheme")
        .prefetch_related("lines")
        .first()
    )
    if statement is not None:
        return _frozen(statement)
    return compute(manager, month)


def payees(ids: set[int] | None = None):
    """The people statements are made for: active managers and team leads."""
    users = User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.TEAM_LEAD])
    if ids is not None:
        users = users.filter(pk__in=ids)
    return users.select_related("team").order_by("first_name", "last_name", "username")


def payouts(month: dt.date, ids: set[int] | None = None) -> list[Payout]:
    return [payout(user, month) for user in payees(ids)]


def approve(manager: User, month: dt.date, by: User, today: dt.date | None = None) -> Statement:
    """Freeze the month's statement as approved by ``by``; once only."""
    month = month_start(month)
    today = today or timezone.localdate()
    if month >= month_start(today):
        raise PayoutError(_("A month is approved after it ends."))
    with transaction.atomic():
        if Statement.objects.select_for_update().filter(manager=manager, month=month).exists():
            raise PayoutError(_("This statement is approved already."))
        result = compute(manager, month)
        if result.scheme is None:
            raise PayoutError(_("No commission scheme applies to this manager in this month."))
        try:
            with transaction.atomic(), acting_as(by):
                statement = Statement.objects.create(
                    manager=manager,
                    month=month,
                    scheme=result.scheme,
                    scheme_name=result.scheme_name,
                    total=result.total,
                    approved_by=by,
                    approved_at=timezone.now(),
                )
                StatementLine.objects.bulk_create(
                    StatementLine(
                        statement=statement,
                        position=i,
                        kind=line.kind,
                        description=line.description[:500],
                        amount=line.amount,
                        source=line.source,
                    )
                    for i, line in enumerate(result.lines, start=1)
                )
        except IntegrityError:
            raise PayoutError(_("This statement is approved already.")) from None
    return statement
