from __future__ import annotations

import itertools

import pytest
import time_machine

from funnelwatch.alerts import engine, rules
from funnelwatch.alerts.models import Alert, Kind, Status
from funnelwatch.crm import services as crm

pytestmark = pytest.mark.skipif(rules.call_model() is None, reason="telephony not installed")
ids = itertools.count(1)
CLIENT = "+97699112233"


def call(direction, outcome, started_at, number=CLIENT, manager=None):
    model = rules.call_model()
    return model.objects.create(
        provider="test",
        external_id=str(next(ids)),
        direction=direction,
        outcome=outcome,
        started_at=started_at,
        client_number=number,
        manager=manager,
        from_number=number if direction == "in" else "101",
        to_number=number if direction == "out" else "101",
    )


def evaluate(at, *moment, kind):
    with time_machine.travel(at(*moment), tick=False):
        return engine.evaluate(kinds=[kind])


@pytest.fixture
def lead(world, at):
    contact = crm.create_contact(actor=world.alice, name="Bat", phone_numbers=[CLIENT])
    return crm.create_lead(
        actor=world.alice,
        title="Website lead",
        owner=world.alice,
        contact=contact,
        at=at(2026, 3, 2, 10),
    )


def test_lead_not_called_within_sla_in_working_minutes(world, lead, at):
    evaluate(at, 2026, 3, 2, 10, 14, kind=Kind.LEAD_NOT_CALLED)
    assert not Alert.objects.exists()
    evaluate(at, 2026, 3, 2, 10, 16, kind=Kind.LEAD_NOT_CALLED)
    alert = Alert.objects.get()
    assert (alert.manager, alert.subject, alert.numbers["minutes"]) == (world.alice, lead, 16)


def test_lead_that_came_in_the_evening_waits_for_working_hours(world, at):
    contact = crm.create_contact(actor=world.bob, name="Late", phone_numbers=["+97699000111"])
    crm.create_lead(
        actor=world.bob,
        title="Evening lead",
        owner=world.bob,
        contact=contact,
        at=at(2026, 3, 6, 20),
    )  # Friday 20:00
    evaluate(at, 2026, 3, 9, 9, 10, kind=Kind.LEAD_NOT_CALLED)  # Monday 09:10: 10 minutes
    assert not Alert.objects.exists()


def test_calling_the_lead_resolves_it(world, lead, at):
    evaluate(at, 2026, 3, 2, 11, kind=Kind.LEAD_NOT_CALLED)
    call("out", "no_answer", at(2026, 3, 2, 11, 5), manager=world.alice)
    evaluate(at, 2026, 3, 2, 11, 10, kind=Kind.LEAD_NOT_CALLED)
    assert Alert.objects.get().status == Status.RESOLVED


def test_missed_call_not_returned(world, at):
    call("in", "no_answer", at(2026, 3, 2, 10), manager=world.bob)
    call("in", "no_answer", at(2026, 3, 2, 10, 5), manager=world.bob)
    evaluate(at, 2026, 3, 2, 10, 10, kind=Kind.MISSED_CALL_NOT_RETURNED)
    assert not Alert.objects.exists()
    evaluate(at, 2026, 3, 2, 10, 30, kind=Kind.MISSED_CALL_NOT_RETURNED)
    alert = Alert.objects.get()
    assert alert.manager == world.bob
    assert (alert.numbers["number"], alert.numbers["missed"], alert.numbers["minutes"]) == (
        CLIENT,
        2,
        30,
    )
    call("out", "answered", at(2026, 3, 2, 10, 40), manager=world.bob)
    evaluate(at, 2026, 3, 2, 10, 45, kind=Kind.MISSED_CALL_NOT_RETURNED)
    alert.refresh_from_db()
    assert alert.status == Status.RESOLVED


def test_a_call_returned_within_sla_raises_nothing(world, at):
    call("in", "busy", at(2026, 3, 2, 10))
    call("out", "answered", at(2026, 3, 2, 10, 8))
    evaluate(at, 2026, 3, 2, 12, kind=Kind.MISSED_CALL_NOT_RETURNED)
    assert not Alert.objects.exists()


def test_missed_call_nobody_picked_up_goes_to_the_clients_owner(world, lead, at):
    call("in", "no_answer", at(2026, 3, 2, 10))  # ring group: no manager on the call
    evaluate(at, 2026, 3, 2, 11, kind=Kind.MISSED_CALL_NOT_RETURNED)
    assert Alert.objects.get().manager == world.alice
