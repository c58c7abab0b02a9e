"""Qualified deals a manager passed to a colleague, for the scheme's referral fee.

The default source counts a deal as passed when the manager handed it to someone else in
the month (an owner change from them) and the deal is not junk: a lead they found and
qualified, which a colleague works. Another app that knows referrers better (a lead's
``referrer``) adds its own source with :func:`register`; a deal counted by several
sources is paid once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from funnelwatch.crm.models import Outcome, OwnerChange
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import bounds


@dataclass(frozen=True)
class Referral:
    deal_id: int
    title: str


Source = Callable[[object, Period], list[Referral]]
_SOURCES: list[Source] = []


def register(source: Source) -> Source:
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


@register
def passed_deals(manager, period: Period) -> list[Referral]:  # noqa: ANN001
    start, end = bounds(period)
    rows = (
        OwnerChange.objects.filter(from_owner=manager, at__gte=start, at__lt=end)
        .exclude(to_owner=manager)
        .exclude(deal__status=Outcome.JUNK)
        .values_list("deal_id", "deal__title")
        .order_by("deal_id")
        .distinct()
    )
    return [Referral(deal_id, title) for deal_id, title in rows]


def referrals(manager, period: Period) -> list[Referral]:  # noqa: ANN001
    seen: dict[int, Referral] = {}
    for source in _SOURCES:
        for item in source(manager, period):
            seen.setdefault(item.deal_id, item)
    return [seen[k] for k in sorted(seen)]
