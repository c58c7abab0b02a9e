"""What needs attention, ranked: open alerts grouped by manager, one line per deal.

The order a head reads them in the morning:

1. managers whose activity dropped (the biggest drop first): a drop in calls or CRM work
   today is a drop in sales next month, and it is the one warning about the person
   rather than about a record;
2. then by money at risk: the sum of the amounts of the deals the manager's alerts name
   (each deal once, however many rules name it);
3. then by severity: the weight of the manager's other warnings (a lead nobody called
   or a client's missed call outweighs a meeting without a proposal, which outweighs a
   CRM-hygiene note).

Inside a manager's group the deals go by amount, then by severity. A deal named by
several rules (stalled *and* its meeting without a proposal) is one line with each
reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from funnelwatch.accounts.models import User
from funnelwatch.alerts import messages as texts
from funnelwatch.alerts.models import Alert, Kind
from funnelwatch.crm.models import Deal

SEVERITY = {
    Kind.ACTIVITY_DROP: 5,
    Kind.LEAD_NOT_CALLED: 4,
    Kind.MISSED_CALL_NOT_RETURNED: 4,
    Kind.STALLED_DEAL: 3,
    Kind.MEETING_WITHOUT_PROPOSAL: 2,
    Kind.PLAN_AT_RISK: 2,
    Kind.CRM_HYGIENE: 1,
}


@dataclass
class DealLine:
    deal_id: int
    title: str
    amount: Decimal
    alerts: list[Alert] = field(default_factory=list)

    @property
    def severity(self) -> int:
        return max(SEVERITY.get(a.kind, 1) for a in self.alerts)

    @property
    def since(self) -> dt.datetime:
        return min(a.opened_at for a in self.alerts)

    @property
    def stalled(self) -> Alert | None:
        return next((a for a in self.alerts if a.kind == Kind.STALLED_DEAL), None)


@dataclass
class Group:
    manager: User | None
    drops: list[Alert] = field(default_factory=list)
    deals: list[DealLine] = field(default_factory=list)
    others: list[Alert] = field(default_factory=list)

    @property
    def money_at_risk(self) -> Decimal:
        return sum((line.amount for line in self.deals), Decimal(0))

    @property
    def severity(self) -> int:
        return sum(SEVERITY.get(a.kind, 1) for a in self.alerts)

    @property
    def worst_drop(self) -> int:
        """The largest activity drop in percent (a positive number; 0 without one)."""
        return max((-int(a.numbers.get("change_pct", 0)) for a in self.drops), default=0)

    @property
    def alerts(self) -> list[Alert]:
        return [*self.drops, *(a for line in self.deals for a in line.alerts), *self.others]

    def rank_key(self) -> tuple:
        return (
            0 if self.drops else 1,
            -self.worst_drop,
            -self.money_at_risk,
            -self.severity,
            str(self.manager or "~"),
        )


def _deal_of(alert: Alert) -> int | None:
    deal = alert.numbers.get("deal") if isinstance(alert.numbers, dict) else None
    try:
        return int(deal) if deal else None
    except (TypeError, ValueError):
        return None


def _amount(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def rank(alerts: Iterable[Alert]) -> list[Group]:
    """Alerts (with their managers loaded) as ranked groups; each alert gets ``text`` and
    ``links`` in the reader's language."""
    alerts = list(alerts)
    deal_ids = {d for a in alerts if (d := _deal_of(a))}
    deals = {
        pk: (title, amount)
        for pk, title, amount in Deal.objects.filter(pk__in=deal_ids).values_list(
            "pk", "title", "amount"
        )
    }
    groups: dict[int | None, Group] = {}
    lines: dict[tuple[int | None, int], DealLine] = {}
    for alert in alerts:
        alert.text = texts.render(alert.kind, alert.numbers)
        alert.links = texts.links(alert.kind, alert.numbers, alert.manager_id)
        group = groups.get(alert.manager_id)
        if group is None:
            group = groups[alert.manager_id] = Group(alert.manager)
        deal_id = _deal_of(alert)
        if alert.kind == Kind.ACTIVITY_DROP:
            group.drops.append(alert)
        elif deal_id is not None and deal_id in deals:
            line = lines.get((alert.manager_id, deal_id))
            if line is None:
                title, amount = deals[deal_id]
                line = DealLine(deal_id, title, _amount(amount))
                lines[(alert.manager_id, deal_id)] = line
                group.deals.append(line)
            line.alerts.append(alert)
        else:
            group.others.append(alert)
    for group in groups.values():
        group.drops.sort(key=lambda a: int(a.numbers.get("change_pct", 0)))
        group.deals.sort(key=lambda line: (-line.amount, -line.severity, line.since))
        group.others.sort(key=lambda a: (-SEVERITY.get(a.kind, 1), a.opened_at))
        for line in group.deals:
            line.alerts.sort(key=lambda a: -SEVERITY.get(a.kind, 1))
    return sorted(groups.values(), key=Group.rank_key)
