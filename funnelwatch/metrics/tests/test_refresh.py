from __future__ import annotations

import datetime as dt

from django.db import transaction

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, refresh
from funnelwatch.metrics.models import DailyValue

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def _value(key, manager, period=MARCH):
    return engine.group_values([key], period, {0: {manager.pk}})[0][key]


def test_reassignment_mid_period_credits_each_owner(world, at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deal = services.create_lead(
            actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2, 10)
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.send_proposal(deal, actor=world.alice, amount=100, at=at(2026, 3, 3, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.reassign(deal, world.bob, actor=world.head, at=at(2026, 3, 10, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.send_proposal(deal, actor=world.bob, amount=300, at=at(2026, 3, 11, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.win(deal, actor=world.bob, amount=1000, at=at(2026, 3, 12, 10))
    assert _value("proposals_amount", world.alice) == 100
    assert _value("proposals_amount", world.bob) == 300
    assert _value("won_amount", world.bob) == 1000 and _value("won_amount", world.alice) == 0
    # Cohorts stay with the owner at creation / at the first proposal.
    assert _value("leads_received", world.alice) == 1 and _value("leads_received", world.bob) == 0
    assert _value("proposal_to_won_pct", world.alice) == 100.0
    assert _value("proposal_to_won_pct", world.bob) is None
    assert engine.verify(MARCH) == []


def test_audit_rows_outside_services_refresh_crm_actions(
    world, at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_contact(actor=world.alice, name="Ann", at=at(2026, 3, 5, 10))
    assert _value("crm_actions", world.alice) == 1


def test_suspended_skips_refresh_until_rebuild(world, at, django_capture_on_commit_callbacks):
    with refresh.suspended(), django_capture_on_commit_callbacks(execute=True):
        services.create_lead(actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2, 10))
    assert not DailyValue.objects.exists()
    assert engine.verify(MARCH)
    engine.rebuild(MARCH)
    assert engine.verify(MARCH) == []
    assert _value("leads_received", world.alice) == 1


def test_a_bulk_transaction_refreshes_its_whole_span_once(
    world, at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for day in range(1, 29):
            for who in (world.alice, world.bob, world.lead):
                deal = services.create_lead(
                    actor=who, title="X", owner=who, at=at(2026, 3, day, 10)
                )
                services.send_proposal(deal, actor=who, amount=10, at=at(2026, 3, day, 11))
    assert engine.verify(MARCH) == []
    assert _value("proposals_sent", world.bob) == 28


def test_a_big_batch_rebuilds_each_stretch_of_marked_days_not_the_span(monkeypatch):
    """A burst naming many managers on two far-apart stretches rebuilds those stretches
    (each for the managers marked in it), not everyone over the weeks between."""
    passes = []
    monkeypatch.setattr(
        refresh,
        "_rebuild",
        lambda period, managers, keys, raise_errors=False: passes.append((period, set(managers))),
    )
    batch = refresh._Batch()
    early = [dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 6)]
    # Ids only: the rebuild itself is replaced. 30 managers × 3 days > BIG_BATCH_DAYS.
    managers = set(range(1000, 1030))
    batch.add(managers, early, None)
    batch.add([1000], [dt.date(2026, 4, 20)], None)
    batch.flush()
    assert passes == [
        (Period(dt.date(2026, 3, 2), dt.date(2026, 3, 7)), managers),
        (Period(dt.date(2026, 4, 20), dt.date(2026, 4, 21)), {1000}),
    ]
    assert refresh.spans([dt.date(2026, 3, 1), dt.date(2026, 3, 7)]) == [
        Period(dt.date(2026, 3, 1), dt.date(2026, 3, 8))
    ]
    assert len(refresh.spans([dt.date(2026, 3, 1), dt.date(2026, 3, 9)])) == 2


def test_demo_builds_rollups(world, at, django_capture_on_commit_callbacks):
    from types import SimpleNamespace

    from funnelwatch.metrics import demo

    with refresh.suspended(), django_capture_on_commit_callbacks(execute=True):
        services.create_lead(actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2, 10))
    ctx = SimpleNamespace(start=at(2026, 2, 1, 0), now=at(2026, 3, 31, 0), notes=[])
    demo.generate(ctx)
    assert engine.verify(MARCH) == [] and "rollup rows" in ctx.notes[0]


def test_median_of_counted_samples():
    from collections import Counter

    assert engine.median(Counter()) is None
    assert engine.median(Counter({1.0: 1})) == 1.0
    assert engine.median(Counter({1.0: 1, 3.0: 1})) == 2.0
    assert engine.median(Counter({0.5: 3, 2.0: 1})) == 0.5
    assert engine.median(Counter({0.5: 2, 2.0: 2})) == 1.25


def test_an_event_may_name_every_day_it_changed(world, at, django_capture_on_commit_callbacks):
    from funnelwatch.crm.signals import crm_event

    with refresh.suspended():
        for day in (3, 9):
            services.create_lead(
                actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, day, 10)
            )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        crm_event.send(
            sender=None,
            kind="lead_created",
            deal=None,
            at=at(2026, 3, 9, 10),
            user_ids={world.alice.pk},
            days=[dt.date(2026, 3, 3)],
        )
    assert _value("leads_received", world.alice) == 2


def test_rollup_answers_are_reused_until_a_day_of_the_period_is_rebuilt(
    world, at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_lead(actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2, 10))
    assert _value("leads_received", world.alice) == 1
    # A row written behind the engine's back (no new day token) is not read...
    DailyValue.objects.filter(metric="leads_received").update(value=5)
    assert _value("leads_received", world.alice) == 1
    # ...until a day of the period is rebuilt: then the rows are read again.
    with django_capture_on_commit_callbacks(execute=True):
        services.create_lead(
            actor=world.alice, title="Y", owner=world.alice, at=at(2026, 3, 20, 10)
        )
    assert _value("leads_received", world.alice) == 2
    # A period none of whose days changed keeps its answer; one that did is read again.
    february = Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    assert _value("leads_received", world.alice, february) == 0
    engine.rebuild(Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3)))
    assert _value("leads_received", world.alice) == 2


def test_medians_are_reused_for_other_callers_with_the_same_members(world, at):
    from funnelwatch.metrics.models import DailySample

    DailySample.objects.create(
        metric="stage_velocity", manager=world.alice, day=dt.date(2026, 3, 3), value=2.0
    )
    engine.roll_sample_weeks(MARCH, None, ["stage_velocity"])
    engine.stamp(MARCH)
    first = engine.group_values(["stage_velocity"], MARCH, {"a": {world.alice.pk}})
    again = engine.group_values(["stage_velocity"], MARCH, {"b": {world.alice.pk}, "c": None})
    assert first == {"a": {"stage_velocity": 2.0}}
    assert again == {"b": {"stage_velocity": 2.0}, "c": {"stage_velocity": 2.0}}


def test_a_call_recomputes_only_metrics_that_read_more_than_the_crm(world, at, monkeypatch):
    from funnelwatch.crm.signals import crm_event
    from funnelwatch.metrics import registry

    seen = []
    monkeypatch.setattr(
        refresh, "changed", lambda source, managers, days, keys=None: seen.append((source, keys))
    )
    crm_event.send(
        sender=None, kind="call", deal=None, at=at(2026, 3, 9, 10), user_ids={world.alice.pk}
    )
    ((source, chosen),) = seen
    # No keys: the metrics listening to calls.
    assert source == "call" and chosen is None
    keys = refresh.listening("call")
    assert "calls_out" in keys and "speed_to_first_call" in keys and "leads_called_pct" in keys
    assert "won_amount" not in keys and "stage_velocity" not in keys
    # Objection attempts count calls on deals, so a call recomputes them too.
    assert "objection_attempts" in keys
    assert all(
        registry.get(k).refresh_on is None or "call" in registry.get(k).refresh_on for k in keys
    )


def test_a_failing_refresh_after_the_commit_keeps_the_change_and_is_logged(
    world, at, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.db import IntegrityError

    from funnelwatch.crm.models import Deal

    tries = []

    def broken(*args, **kwargs):
        tries.append(args)
        raise IntegrityError('duplicate key value violates unique constraint "uniq_daily_value"')

    monkeypatch.setattr(engine, "rebuild", broken)
    with django_capture_on_commit_callbacks(execute=True):
        deal = services.create_lead(
            actor=world.alice, title="X", owner=world.alice, at=at(2026, 3, 2, 10)
        )
    assert Deal.objects.filter(pk=deal.pk).exists()
    # Each refresh (the lead's numbers, the audit trail's crm_actions) tried in vain.
    assert len(tries) == 2 * refresh.ATTEMPTS
    assert "rollups rebuild --from 2026-03-02 --to 2026-03-03" in caplog.text
