from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from funnelwatch.accounts.models import Absence, Holiday
from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert, Kind, RuleSettings, Status
from funnelwatch.alerts.tests.conftest import workdays_between

D = dt.date
# Wednesday 25 March 2026: the last 5 working days are 18-24 March, the baseline the same
# weekdays of the four weeks before (18 Feb - 17 Mar).
NOW = (2026, 3, 25, 10)
BASELINE = workdays_between(D(2026, 2, 18), D(2026, 3, 18))
RECENT = workdays_between(D(2026, 3, 18), D(2026, 3, 25))


@pytest.fixture
def calls(world, metrics):
    metrics.add("calls_out", "outbound calls")
    metrics.set("calls_out", world.alice, BASELINE, 40)
    metrics.set("calls_out", world.bob, BASELINE + RECENT, 30)
    return metrics


def evaluate(at):
    with time_machine.travel(at(*NOW), tick=False):
        return engine.evaluate(kinds=[Kind.ACTIVITY_DROP])


def test_fires_on_a_clear_drop_with_the_numbers(world, calls, at):
    calls.set("calls_out", world.alice, RECENT, 15)
    assert evaluate(at)[Kind.ACTIVITY_DROP].startswith("1 current, 1 opened")
    alert = Alert.objects.get()
    assert alert.manager == world.alice and alert.status == Status.OPEN
    assert alert.cause_key == f"activity_drop:{world.alice.pk}:calls_out"
    assert alert.numbers["value"] == 75 and alert.numbers["usual"] == 200
    assert alert.numbers["change_pct"] == -62
    assert alert.message == (
        "outbound calls 75 in the last 5 working days against a usual 200 (−62%)"
    )
    assert len(alert.numbers["baseline_days"]) == 20


def test_single_bad_day_stays_quiet_even_with_a_low_threshold(world, calls, at):
    RuleSettings.objects.create(activity_drop_pct=10)
    calls.set("calls_out", world.alice, RECENT, 40)
    calls.set("calls_out", world.alice, [D(2026, 3, 20)], 0)  # total -20%, median unchanged
    evaluate(at)
    assert not Alert.objects.exists()


def test_days_off_are_skipped_not_counted_as_zero(world, calls, at):
    calls.set("calls_out", world.alice, RECENT, 40)
    off = [D(2026, 3, 20), D(2026, 3, 23), D(2026, 3, 24)]
    calls.set("calls_out", world.alice, off, 0)
    evaluate(at)
    assert Alert.objects.filter(manager=world.alice).count() == 1  # three empty days: a drop

    Absence.objects.create(user=world.alice, start=D(2026, 3, 20), end=D(2026, 3, 24))
    evaluate(at)
    assert not Alert.objects.filter(resolved_at__isnull=True).exists()


def test_company_holiday_is_skipped(world, calls, at):
    calls.set("calls_out", world.alice, RECENT, 40)
    calls.set("calls_out", world.alice, [D(2026, 3, 23), D(2026, 3, 24), D(2026, 3, 20)], 0)
    for day in (D(2026, 3, 20), D(2026, 3, 23), D(2026, 3, 24)):
        Holiday.objects.create(day=day)
    evaluate(at)
    assert not Alert.objects.exists()


def test_thresholds_per_team(world, calls, at):
    calls.set("calls_out", world.alice, RECENT, 15)
    calls.set("calls_out", world.bob, RECENT, 12)
    RuleSettings.objects.create(team=world.north, activity_drop_pct=70)
    evaluate(at)
    assert [a.manager for a in Alert.objects.all()] == [world.bob]


def test_alert_updates_then_resolves_and_is_never_duplicated(world, calls, at):
    calls.set("calls_out", world.alice, RECENT, 15)
    evaluate(at)
    evaluate(at)
    assert Alert.objects.count() == 1
    calls.set("calls_out", world.alice, RECENT, 10)
    evaluate(at)
    alert = Alert.objects.get()
    assert alert.numbers["value"] == 50 and "50" in alert.message
    calls.set("calls_out", world.alice, RECENT, 40)
    evaluate(at)
    alert.refresh_from_db()
    assert alert.status == Status.RESOLVED and alert.resolved_at == at(*NOW)
    calls.set("calls_out", world.alice, RECENT, 15)
    evaluate(at)
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 1
    assert Alert.objects.count() == 2


def test_low_volume_metrics_are_not_watched(world, metrics, at):
    metrics.add("proposals_sent")
    metrics.set("proposals_sent", world.alice, BASELINE, 1)
    evaluate(at)
    assert not Alert.objects.exists()


def test_skipped_when_no_activity_metric_is_defined(world, metrics, at):
    assert evaluate(at)[Kind.ACTIVITY_DROP] == "skipped"


NOISY = [9, 32, 25, 17, 17, 7, 13, 17, 8, 20, 1, 14, 16, 11, 22, 9, 28, 7, 4, 0]


def test_noisy_manager_fires_when_most_days_are_empty(world, metrics, at):
    metrics.add("crm_actions", "CRM actions")
    for day, value in zip(BASELINE, NOISY, strict=True):
        metrics.set("crm_actions", world.alice, [day], value)
    metrics.set("crm_actions", world.alice, RECENT, 0)
    metrics.set("crm_actions", world.alice, RECENT[-1:], 4)
    evaluate(at)
    alert = Alert.objects.get()
    assert (alert.numbers["value"], alert.numbers["usual"], alert.numbers["change_pct"]) == (
        4,
        67.5,
        -94,
    )


def test_noisy_manager_quiet_on_an_ordinary_swing(world, metrics, at):
    """40 against a usual 67.5 is -41%, but this manager's 5-day totals swing by about
    20 (1.4826 x MAD 6 x sqrt 5 = 19.9): 27.5 short is 1.4 deviations, under 2."""
    metrics.add("crm_actions", "CRM actions")
    for day, value in zip(BASELINE, NOISY, strict=True):
        metrics.set("crm_actions", world.alice, [day], value)
    for day, value in zip(RECENT, [2, 20, 5, 9, 4], strict=True):
        metrics.set("crm_actions", world.alice, [day], value)
    evaluate(at)
    assert not Alert.objects.exists()
    RuleSettings.objects.create(activity_mad_k=1.0)
    evaluate(at)
    assert Alert.objects.get().numbers["robust_deviations"] == 1.4
