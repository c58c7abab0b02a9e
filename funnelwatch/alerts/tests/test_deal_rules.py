from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from funnelwatch.alerts import engine, rules, services
from funnelwatch.alerts.models import Alert, Kind, RuleSettings, Status
from funnelwatch.crm import services as crm


def evaluate(at, *moment, kinds=None):
    with time_machine.travel(at(*moment), tick=False):
        return engine.evaluate(kinds=kinds)


@pytest.fixture
def deal(world, at):
    deal = crm.create_lead(
        actor=world.alice,
        title="School printers",
        owner=world.alice,
        amount=1000,
        at=at(2026, 3, 2, 10),
    )
    # Keep CRM hygiene quiet: these tests are about the other rules.
    RuleSettings.objects.create(hygiene_deals_without_task=100, hygiene_overdue_tasks=100)
    return deal


STALLED = [Kind.STALLED_DEAL]


def test_stalled_deal_fires_past_the_stage_norm(world, deal, at):
    evaluate(at, 2026, 3, 3, 9, kinds=STALLED)  # 23 hours in "New lead", norm 1 day
    assert not Alert.objects.exists()
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    alert = Alert.objects.get()
    assert (alert.kind, alert.manager, alert.subject) == (Kind.STALLED_DEAL, world.alice, deal)
    assert alert.numbers["days_in_stage"] == 3 and alert.numbers["norm_days"] == 1
    assert "School printers" in alert.message and "3 days" in alert.message


def test_moving_on_resolves_the_stalled_alert(world, deal, at):
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    crm.move_stage(deal, world.stages["Qualified"], actor=world.alice, at=at(2026, 3, 5, 11))
    evaluate(at, 2026, 3, 5, 12, kinds=STALLED)
    assert Alert.objects.get().status == Status.RESOLVED


def test_a_planned_future_meeting_holds_a_stalled_deal(world, deal, at):
    crm.schedule_meeting(
        deal, actor=world.alice, scheduled_at=at(2026, 3, 9, 15), at=at(2026, 3, 4, 10)
    )
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    assert not Alert.objects.exists()
    # Once the meeting's time has passed without it being held, the deal is stalled again.
    evaluate(at, 2026, 3, 10, 10, kinds=STALLED)
    assert Alert.objects.filter(kind=Kind.STALLED_DEAL).count() == 1


def test_a_future_task_holds_but_an_overdue_one_does_not(world, deal, at):
    crm.create_task(
        actor=world.alice,
        title="Call back",
        assignee=world.alice,
        deal=deal,
        due_at=at(2026, 3, 4, 10),
        at=at(2026, 3, 2, 11),
    )
    evaluate(at, 2026, 3, 3, 12, kinds=STALLED)
    assert not Alert.objects.exists()
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    assert Alert.objects.count() == 1


def test_snoozed_deal_stays_snoozed_until_the_day_passes(world, deal, at):
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    with time_machine.travel(at(2026, 3, 5, 11), tick=False):
        services.snooze_deal(
            deal, actor=world.head, until=dt.date(2026, 3, 20), reason="Waiting for the tender"
        )
    evaluate(at, 2026, 3, 6, 10, kinds=STALLED)
    alert = Alert.objects.get()
    assert alert.status == Status.SNOOZED and alert.resolved_at is None
    assert alert.numbers["snooze_reason"] == "Waiting for the tender"
    assert alert.numbers["snoozed_until"] == "2026-03-20"
    evaluate(at, 2026, 3, 21, 10, kinds=STALLED)
    alert.refresh_from_db()
    assert alert.status == Status.OPEN
    assert Alert.objects.count() == 1


def test_snoozing_a_deal_before_it_stalls_raises_no_alert(world, deal, at):
    services.snooze_deal(
        deal, actor=world.head, until=dt.date(2026, 3, 20), reason="Tender", at=at(2026, 3, 2, 12)
    )
    evaluate(at, 2026, 3, 5, 10, kinds=STALLED)
    assert not Alert.objects.exists()


def test_only_the_head_snoozes(world, deal, at):
    with pytest.raises(services.AlertError):
        services.snooze_deal(
            deal, actor=world.lead, until=dt.date(2026, 3, 20), reason="x", at=at(2026, 3, 2, 12)
        )
    with pytest.raises(services.AlertError):
        services.snooze_deal(
            deal, actor=world.head, until=dt.date(2026, 3, 20), reason=" ", at=at(2026, 3, 2, 12)
        )


MEETING = [Kind.MEETING_WITHOUT_PROPOSAL]


@pytest.fixture
def held(world, deal, at):
    meeting = crm.schedule_meeting(
        deal, actor=world.alice, scheduled_at=at(2026, 3, 3, 15), at=at(2026, 3, 2, 11)
    )
    return crm.hold_meeting(meeting, actor=world.alice, at=at(2026, 3, 3, 16))


def test_meeting_without_proposal_fires_after_n_days(world, held, at):
    evaluate(at, 2026, 3, 6, 15, kinds=MEETING)  # 2 days 23 hours: within the 3 days
    assert not Alert.objects.exists()
    evaluate(at, 2026, 3, 6, 17, kinds=MEETING)
    alert = Alert.objects.get()
    assert alert.manager == world.alice and alert.numbers["days"] == 3
    assert alert.numbers["meeting"] == held.pk


def test_a_proposal_after_the_meeting_resolves_it(world, deal, held, at):
    evaluate(at, 2026, 3, 7, 10, kinds=MEETING)
    crm.send_proposal(deal, actor=world.alice, amount=900, at=at(2026, 3, 7, 11))
    evaluate(at, 2026, 3, 7, 12, kinds=MEETING)
    assert Alert.objects.get().status == Status.RESOLVED


def test_a_proposal_sent_before_the_meeting_does_not_count(world, deal, at):
    crm.send_proposal(deal, actor=world.alice, amount=900, at=at(2026, 3, 2, 12))
    meeting = crm.schedule_meeting(
        deal, actor=world.alice, scheduled_at=at(2026, 3, 3, 15), at=at(2026, 3, 2, 13)
    )
    crm.hold_meeting(meeting, actor=world.alice, at=at(2026, 3, 3, 16))
    evaluate(at, 2026, 3, 9, 10, kinds=MEETING)
    assert Alert.objects.count() == 1


HYGIENE = [Kind.CRM_HYGIENE]


def test_crm_hygiene_counts_deals_without_next_step_and_overdue_tasks(world, at):
    RuleSettings.objects.create(hygiene_deals_without_task=1, hygiene_overdue_tasks=1)
    deals = [
        crm.create_lead(actor=world.bob, title=f"Deal {i}", owner=world.bob, at=at(2026, 3, 2, 10))
        for i in range(3)
    ]
    crm.create_task(
        actor=world.bob,
        title="Next",
        assignee=world.bob,
        deal=deals[0],
        due_at=at(2026, 3, 20, 10),
        at=at(2026, 3, 2, 10),
    )
    evaluate(at, 2026, 3, 5, 10, kinds=HYGIENE)
    alert = Alert.objects.get()
    assert alert.manager == world.bob
    assert alert.numbers["deals_without_next_step"] == 2
    assert alert.numbers["overdue_tasks"] == 0
    assert alert.numbers["deal_ids"] == sorted(d.pk for d in deals[1:])


def test_crm_hygiene_quiet_within_limits(world, at):
    RuleSettings.objects.create(hygiene_deals_without_task=2, hygiene_overdue_tasks=1)
    deal = crm.create_lead(actor=world.bob, title="Deal", owner=world.bob, at=at(2026, 3, 2, 10))
    crm.create_task(
        actor=world.bob,
        title="Late",
        assignee=world.bob,
        deal=deal,
        due_at=at(2026, 3, 3, 10),
        at=at(2026, 3, 2, 10),
    )
    evaluate(at, 2026, 3, 5, 10, kinds=HYGIENE)
    assert not Alert.objects.exists()


def _plan_world(world, at, target):
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics.engine import rebuild
    from funnelwatch.plans.models import Plan

    deal = crm.create_lead(
        actor=world.alice, title="Won", owner=world.alice, amount=100_000, at=at(2026, 3, 2, 10)
    )
    crm.create_task(
        actor=world.alice,
        title="Next",
        assignee=world.alice,
        deal=deal,
        due_at=at(2026, 3, 30, 10),
        at=at(2026, 3, 2, 10),
    )
    crm.win(deal, actor=world.alice, at=at(2026, 3, 10, 12))
    rebuild(Period(dt.date(2026, 2, 1), dt.date(2026, 4, 1)))
    return Plan.objects.create(
        title="March sales",
        metric="won_amount",
        target=target,
        manager=world.alice,
        first_day=dt.date(2026, 3, 1),
        last_day=dt.date(2026, 3, 31),
        created_by=world.head,
    )


@pytest.mark.skipif(rules.plan_progress() is None, reason="no plans app")
def test_plan_at_risk_when_the_pace_needed_beats_the_best_recent_pace(world, at):
    """100,000 won in the week of 9 March: best pace 20,000 a working day. 900,000 left over
    the 12 working days from 16 March needs 75,000 a day."""
    plan = _plan_world(world, at, 1_000_000)
    evaluate(at, 2026, 3, 16, 10, kinds=[Kind.PLAN_AT_RISK])
    alert = Alert.objects.get()
    assert (alert.manager, alert.subject) == (world.alice, plan)
    n = alert.numbers
    assert (n["fact"], n["needed_per_day"], n["best_per_day"], n["days_left"]) == (
        100000.0,
        75000.0,
        20000.0,
        12,
    )


@pytest.mark.skipif(rules.plan_progress() is None, reason="no plans app")
def test_plan_within_reach_stays_quiet(world, at):
    _plan_world(world, at, 300_000)  # 200,000 / 12 = 16,667 a day < 20,000
    evaluate(at, 2026, 3, 16, 10, kinds=[Kind.PLAN_AT_RISK])
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ((2026, 3, 4, 10, 0), (2026, 3, 4, 10, 15)),
        ((2026, 3, 4, 17, 50), (2026, 3, 5, 9, 5)),  # 10 minutes today, 5 tomorrow
        ((2026, 3, 6, 20, 0), (2026, 3, 9, 9, 15)),  # Friday evening -> Monday morning
        ((2026, 3, 7, 3, 0), (2026, 3, 9, 9, 15)),
    ],
)
def test_sla_due_at_counts_working_minutes(start, due, at):
    from django.utils import timezone

    from funnelwatch.alerts.rules import sla_due_at

    assert sla_due_at(at(*start), timezone.get_current_timezone()) == at(*due)
