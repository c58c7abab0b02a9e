from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import Deal
from funnelwatch.motivation import payouts
from funnelwatch.motivation.models import Assignment, Scheme, Statement

TODAY = dt.date(2026, 4, 15)


def _by_kind(result):
    out = {}
    for line in result.lines:
        out.setdefault(line.kind, []).append(line)
    return out


def test_march_counted_by_hand(world, march):
    result = payouts.compute(world.alice, march.month)
    assert result.scheme == march.scheme
    # 2 200 000 won against a plan of 2 000 000.
    assert result.fulfilment_pct == Decimal("110.00")
    lines = _by_kind(result)
    assert [(ln.amount, ln.source) for ln in lines["fixed"]] == [
        (Decimal("500000.00"), [f"scheme:{march.scheme.pk}"])
    ]
    # D1: 7 % (the tier from 100 %) of 600 000 gross profit; D2 lost money: no line.
    assert [(ln.amount, ln.source) for ln in lines["commission"]] == [
        (Decimal("42000.00"), [f"deal:{march.d1.pk}"])
    ]
    assert [(ln.amount, ln.source) for ln in lines["tier_bonus"]] == [
        (Decimal("100000.00"), [f"plan:{march.plan.pk}", "metric:plan_pct"])
    ]
    # D5 passed and qualified; D6 passed but junk.
    assert [(ln.amount, ln.source) for ln in lines["referral"]] == [
        (Decimal("20000.00"), [f"deal:{march.d5.pk}"])
    ]
    kpi = {ln.source[0]: ln.amount for ln in lines["kpi_bonus"]}
    assert kpi == {
        "metric:won_count": Decimal("50000.00"),
        "metric:leads_called_sla_pct": Decimal("0.00"),  # nobody called: not reached
    }
    assert result.total == Decimal("712000.00")
    assert result.total == sum(ln.amount for ln in result.lines)


def test_tiers_follow_plan_fulfilment(world, march):
    # A plan of 4 000 000: 55 %, under every tier: the scheme's own 3 %, no tier bonus.
    march.plan.target = Decimal("4000000")
    march.plan.save()
    result = payouts.compute(world.alice, march.month)
    assert result.fulfilment_pct == Decimal("55.00")
    lines = _by_kind(result)
    assert [ln.amount for ln in lines["commission"]] == [Decimal("18000.00")]
    assert "tier_bonus" not in lines
    # 2 500 000: 88 %, the 5 % tier, still no bonus.
    march.plan.target = Decimal("2500000")
    march.plan.save()
    lines = _by_kind(payouts.compute(world.alice, march.month))
    assert [ln.amount for ln in lines["commission"]] == [Decimal("30000.00")]
    assert "tier_bonus" not in lines


def test_amount_base_and_margin(world, march):
    march.scheme.base = "amount"
    march.scheme.save()
    lines = _by_kind(payouts.compute(world.alice, march.month))
    # 7 % of 1 000 000 and of 1 200 000.
    assert [ln.amount for ln in lines["commission"]] == [Decimal("70000.00"), Decimal("84000.00")]
    march.scheme.base = "gross_profit"
    march.scheme.margin_pct = Decimal("30")
    march.scheme.save()
    lines = _by_kind(payouts.compute(world.alice, march.month))
    # Gross profit taken as 30 % of the amount: 300 000 and 360 000, at 7 %.
    assert [ln.amount for ln in lines["commission"]] == [Decimal("21000.00"), Decimal("25200.00")]


def test_own_assignment_wins_over_team_and_dates_count(world, march):
    other = Scheme.objects.create(
        name="Fixed only", fixed_amount=100, valid_from=dt.date(2026, 3, 1)
    )
    Assignment.objects.create(scheme=other, manager=world.alice, valid_from=dt.date(2026, 3, 1))
    assert payouts.scheme_for(world.alice, march.month) == other
    assert payouts.scheme_for(world.alice, dt.date(2026, 2, 1)) == march.scheme
    assert payouts.scheme_for(world.bob, march.month) is None  # South has no scheme
    march.scheme.valid_until = dt.date(2026, 1, 31)
    march.scheme.save()
    assert payouts.scheme_for(world.alice, dt.date(2026, 2, 1)) is None


def test_approval_freezes_and_happens_once(world, march):
    with pytest.raises(payouts.PayoutError):
        payouts.approve(world.alice, dt.date(2026, 4, 1), world.head, today=TODAY)
    statement = payouts.approve(world.alice, march.month, world.head, today=TODAY)
    assert statement.total == Decimal("712000.00")
    assert AuditEvent.objects.filter(
        object_type="motivation.statement", object_id=str(statement.pk), actor=world.head
    ).exists()
    # Later changes to the deals do not change an approved statement.
    Deal.objects.filter(pk=march.d1.pk).update(cost=0)
    frozen = payouts.payout(world.alice, march.month)
    assert frozen.approved and frozen.total == Decimal("712000.00")
    assert [ln.amount for ln in frozen.lines if ln.kind == "commission"] == [Decimal("42000.00")]
    assert payouts.compute(world.alice, march.month).total != frozen.total
    with pytest.raises(payouts.PayoutError):
        payouts.approve(world.alice, march.month, world.head, today=TODAY)
    assert Statement.objects.count() == 1


def test_deal_paid_in_an_approved_month_is_not_paid_again(world, march, at):
    from funnelwatch.crm.models import StageChange

    payouts.approve(world.alice, march.month, world.head, today=TODAY)
    # A second win of the same deal in April (an imported history can hold one).
    StageChange.objects.create(
        deal=march.d1, to_stage=world.stages["Won"], at=at(2026, 4, 3, 10), owner=world.alice
    )
    april = payouts.compute(world.alice, dt.date(2026, 4, 1))
    assert not [ln for ln in april.lines if ln.kind == "commission"]
    # Before March was approved, April would have paid it.
    Statement.objects.all().delete()
    april = payouts.compute(world.alice, dt.date(2026, 4, 1))
    assert [ln.source for ln in april.lines if ln.kind == "commission"] == [[f"deal:{march.d1.pk}"]]


def test_command_json_lines_add_up(world, march):
    out = StringIO()
    call_command("payouts", "--month", "2026-03", "--format", "json", stdout=out)
    rows = {r["manager"]: r for r in json.loads(out.getvalue())}
    alice = rows["alice"]
    assert alice["scheme"] == "Standard" and alice["total"] == "712000.00"
    assert sum(Decimal(ln["amount"]) for ln in alice["lines"]) == Decimal(alice["total"])
    assert {"kind", "description", "amount", "source"} <= set(alice["lines"][0])
    assert "bob" not in rows  # no scheme, nothing to pay
    with pytest.raises(CommandError):
        call_command("payouts", "--month", "2026-13")


def test_manager_sees_own_statement_with_the_heads_numbers(client, world, march):
    url = reverse("motivation:statement", args=[world.alice.pk, "2026-03"])
    client.force_login(world.alice)
    mine = client.get(url)
    assert mine.status_code == 200 and "712\u202f000.00" in mine.content.decode()
    assert "Approve" not in mine.content.decode()
    client.force_login(world.head)
    assert "712\u202f000.00" in client.get(url).content.decode()
    client.force_login(world.bob)
    assert client.get(url).status_code == 404
    client.force_login(world.alice)
    assert (
        client.post(reverse("motivation:approve", args=[world.alice.pk, "2026-03"])).status_code
        == 403
    )
    assert client.get(url.replace("2026-03", "2026-3x")).status_code == 400


def test_export_escapes_formulas_and_is_audited(client, world, march):
    Deal.objects.filter(pk=march.d1.pk).update(title='=HYPERLINK("http://x")')
    client.force_login(world.head)
    response = client.get(reverse("motivation:export") + "?month=2026-03&format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    commission = [r for r in rows if r[4] == "commission"]
    assert commission and "=HYPERLINK" in commission[0][5] and not commission[0][5].startswith("=")
    assert AuditEvent.objects.filter(action="export", object_type="motivation.payouts").exists()
    xlsx = client.get(reverse("motivation:export") + "?month=2026-03&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get(reverse("motivation:export") + "?format=pdf").status_code == 400
