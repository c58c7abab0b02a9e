"""A small month to count by hand: alice's March 2026 under one scheme.

- fixed part 500 000;
- commission on gross profit (amount − cost): 3 %, 5 % from 80 % of plan, 7 % and a
  100 000 bonus from 100 %;
- 20 000 a qualified deal passed to a colleague;
- KPI bonuses: 50 000 for at least 2 deals won; 30 000 for at least 90 % of new leads
  called within the SLA.

Alice's March: plan 2 000 000; wins D1 (1 000 000, cost 400 000) and D2 (1 200 000,
cost 1 300 000: a loss); D3 won in February; bob wins D4 in March; alice passes D5 to bob
(qualified) and D6 to bob (then junk).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from funnelwatch.crm import services
from funnelwatch.motivation.models import Assignment, KpiBonus, Scheme, Tier
from funnelwatch.plans.models import Plan


@pytest.fixture
def march(world, at, django_capture_on_commit_callbacks):
    scheme = Scheme.objects.create(
        name="Standard",
        fixed_amount=Decimal("500000"),
        base="gross_profit",
        rate_pct=Decimal("3"),
        referral_fee=Decimal("20000"),
        valid_from=dt.date(2026, 1, 1),
    )
    Tier.objects.create(scheme=scheme, min_fulfilment_pct=80, rate_pct=5)
    Tier.objects.create(scheme=scheme, min_fulfilment_pct=100, rate_pct=7, bonus=100000)
    KpiBonus.objects.create(
        scheme=scheme, metric="won_count", comparison="gte", target=2, amount=50000
    )
    KpiBonus.objects.create(
        scheme=scheme, metric="leads_called_sla_pct", comparison="gte", target=90, amount=30000
    )
    Assignment.objects.create(scheme=scheme, team=world.north, valid_from=dt.date(2026, 1, 1))
    plan = Plan.objects.create(
        title="March",
        metric="won_amount",
        target=Decimal("2000000"),
        manager=world.alice,
        first_day=dt.date(2026, 3, 1),
        last_day=dt.date(2026, 3, 31),
    )

    def lead(title, owner, amount=0, cost=0, when=None):
        return services.create_lead(
            actor=owner, title=title, owner=owner, amount=amount, cost=cost, at=when
        )

    with django_capture_on_commit_callbacks(execute=True):
        d1 = lead("D1", world.alice, 1_000_000, 400_000, at(2026, 3, 2, 10))
        services.win(d1, actor=world.alice, at=at(2026, 3, 10, 12))
        d2 = lead("D2", world.alice, 1_200_000, 1_300_000, at(2026, 3, 3, 10))
        services.win(d2, actor=world.alice, at=at(2026, 3, 12, 12))
        d3 = lead("D3", world.alice, 5_000_000, 0, at(2026, 2, 2, 10))
        services.win(d3, actor=world.alice, at=at(2026, 2, 20, 12))
        d4 = lead("D4", world.bob, 3_000_000, 0, at(2026, 3, 2, 10))
        services.win(d4, actor=world.bob, at=at(2026, 3, 11, 12))
        d5 = lead("D5", world.alice, when=at(2026, 3, 4, 10))
        services.reassign(d5, world.bob, actor=world.alice, at=at(2026, 3, 5, 10))
        d6 = lead("D6", world.alice, when=at(2026, 3, 4, 11))
        services.reassign(d6, world.bob, actor=world.alice, at=at(2026, 3, 5, 11))
        services.mark_junk(d6, reason=world.junk_reason, actor=world.bob, at=at(2026, 3, 6, 10))
    return SimpleNamespace(
        scheme=scheme,
        plan=plan,
        d1=d1,
        d2=d2,
        d3=d3,
        d4=d4,
        d5=d5,
        d6=d6,
        month=dt.date(2026, 3, 1),
    )
