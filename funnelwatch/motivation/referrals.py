"""Qualified leads a manager passed to a colleague, for the scheme's referral fee.

A lead counts when the manager is its referrer (the leads app's "passed on by"), it was
created in the month, and it qualified: it left the new-lead block for an open stage, or
was won — the rule of the ``referred_deals_pct`` metric — and is not junk. Another source
can be added with :func:`register`; a deal counted by several sources is paid once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from funnelwatch.crm.models import Outcome
from funnelwatch.lib.dates import Period


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
def qualified_referrals(manager, period: Period) -> list[Referral]:
    from funnelwatch.leads.metrics import _BECAME_DEAL, referred

    rows = (
        referred(period, {manager.pk})
        .filter(_BECAME_DEAL)
        .exclude(deal__status=Outcome.JUNK)
        .values_list("deal_id", "deal__title")
        .order_by("deal_id")
    )
    return [Referral(deal_id, title) for deal_id, title in rows]


def referrals(manager, period: Period) -> list[Referral]:
    seen: dict[int, Referral] = {}
    for source in _SOURCES:
        for item in source(manager, period):
            seen.setdefault(item.deal_id, item)
    return [seen[k] for k in sorted(seen)]
