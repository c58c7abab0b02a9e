from __future__ import annotations

import itertools
import random

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


def _named(page_or_alerts) -> set[str]:
    return {a.numbers["number"] for a in page_or_alerts}


def test_missed_calls_agree_on_the_list_in_alerts_and_on_the_morning_page(world, lead, at):
    """One definition of "over the SLA": the missed-calls page, the alerts and Monday's
    morning page name the same numbers, including a call missed on Saturday night (due
    at Monday's opening plus the SLA) before the alerts are evaluated again."""
    from funnelwatch.alerts import morning
    from funnelwatch.telephony import missed

    saturday = call("in", "no_answer", at(2026, 3, 7, 23), manager=world.bob)
    # Never returned, three weeks ago: still waiting, whatever lookback the alerts use.
    old = call("in", "no_answer", at(2026, 2, 16, 10), number="+97699000001", manager=world.bob)
    # The client called again and got through: settled, here as in the alerts.
    call("in", "no_answer", at(2026, 3, 6, 10), number="+97699000002", manager=world.alice)
    call("in", "answered", at(2026, 3, 6, 11), number="+97699000002", manager=world.alice)
    # Returned by an outbound call (whether or not the link was stored yet).
    call("in", "busy", at(2026, 3, 6, 12), number="+97699000003", manager=world.alice)
    call("out", "answered", at(2026, 3, 6, 12, 30), number="+97699000003", manager=world.alice)
    # A hidden number cannot be called back: it waits for nobody.
    call("in", "no_answer", at(2026, 3, 6, 13), number="", manager=world.alice)

    def over_sla_on_the_list(now):
        return {r.call.client_number for r in missed.unreturned(world.head, now) if r.overdue}

    evaluate(at, 2026, 3, 8, 12, kind=Kind.MISSED_CALL_NOT_RETURNED)  # Sunday
    evaluate(at, 2026, 3, 9, 9, kind=Kind.MISSED_CALL_NOT_RETURNED)  # Monday, opening
    opened = Alert.objects.filter(resolved_at__isnull=True)
    assert _named(opened) == {old.client_number}
    # Monday 09:10: Saturday's call has waited 10 working minutes; the SLA is 15.
    monday_early = at(2026, 3, 9, 9, 10)
    assert over_sla_on_the_list(monday_early) == {old.client_number}
    assert _named(morning.build(world.head, monday_early).missed_calls) == {old.client_number}
    assert missed.due_at(saturday.started_at) == at(2026, 3, 9, 9, 15)
    # Monday 09:20, the alerts not evaluated since 09:00: the list and the morning page
    # both show Saturday's call; the next evaluation names the same numbers.
    monday = at(2026, 3, 9, 9, 20)
    expected = {CLIENT, old.client_number}
    assert over_sla_on_the_list(monday) == expected
    page = morning.build(world.head, monday)
    assert _named(page.missed_calls) == expected
    fresh = next(a for a in page.missed_calls if a.numbers["number"] == CLIENT)
    assert (fresh.manager, fresh.numbers["minutes"], fresh.opened_at) == (
        world.bob,
        20,
        at(2026, 3, 9, 9, 15),
    )
    evaluate(at, 2026, 3, 9, 9, 20, kind=Kind.MISSED_CALL_NOT_RETURNED)
    assert _named(Alert.objects.filter(resolved_at__isnull=True)) == expected
    assert _named(morning.build(world.head, monday).missed_calls) == expected
    assert len(morning.build(world.head, monday).missed_calls) == 2


def test_morning_page_shows_the_numbers_whose_wait_began_last(world, at):
    """More numbers wait than the page shows: it shows those whose wait began last (read
    a page's worth at a time, not every call ever missed), the alerts name the same ones,
    and a team lead sees the team's numbers even when the newest are someone else's."""
    from funnelwatch.alerts import morning

    alices = [f"+9769900010{i}" for i in range(5)]
    bobs = [f"+9769900020{i}" for i in range(5)]
    for i, number in enumerate(alices):
        call("in", "no_answer", at(2026, 3, 2, 10, i), number=number, manager=world.alice)
    for i, number in enumerate(bobs):
        call("in", "no_answer", at(2026, 3, 3, 10, i), number=number, manager=world.bob)
    # Called again later: the number waits since its first call, and counts both.
    call("in", "no_answer", at(2026, 3, 3, 11), number=alices[0], manager=world.alice)
    # Returned: gone from the page however recent.
    call("in", "no_answer", at(2026, 3, 3, 12), number="+97699000301", manager=world.bob)
    call("out", "answered", at(2026, 3, 3, 13), number="+97699000301", manager=world.bob)
    now = at(2026, 3, 4, 12)

    newest = morning.missed_calls(world.head, now, limit=3)
    assert [a.numbers["number"] for a in newest] == bobs[:1:-1]
    assert _named(morning.missed_calls(world.lead, now, limit=3)) == set(alices[2:])
    everything = morning.missed_calls(world.head, now)
    assert _named(everything) == set(alices + bobs)
    again = next(a for a in everything if a.numbers["number"] == alices[0])
    assert (again.numbers["missed"], again.manager) == (2, world.alice)
    evaluate(at, 2026, 3, 4, 12, kind=Kind.MISSED_CALL_NOT_RETURNED)
    assert _named(Alert.objects.filter(resolved_at__isnull=True)) == _named(everything)


def test_morning_page_shows_a_missed_call_that_fell_due_at_the_opening(client, world, at):
    call("in", "no_answer", at(2026, 3, 7, 23), manager=world.bob)  # Saturday night
    evaluate(at, 2026, 3, 9, 9, kind=Kind.MISSED_CALL_NOT_RETURNED)
    client.force_login(world.head)
    with time_machine.travel(at(2026, 3, 9, 9, 10), tick=False):
        assert CLIENT not in client.get("/alerts/morning/").content.decode()
    with time_machine.travel(at(2026, 3, 9, 9, 30), tick=False):
        page = client.get("/alerts/morning/").content.decode()
    assert CLIENT in page and "waiting 30 min of working time" in page
    client.force_login(world.lead)  # bob is not in the team lead's team
    with time_machine.travel(at(2026, 3, 9, 9, 30), tick=False):
        assert CLIENT not in client.get("/alerts/morning/").content.decode()


@pytest.mark.parametrize(("chunk", "reads"), [(1, 8), (2, 8), (3, 8), (50, 8), (1, 2), (2, 0)])
def test_overdue_numbers_newest_wait_first_whatever_the_chunk(world, at, chunk, reads, monkeypatch):
    """Read newest first a chunk at a time (and the rest at once after ``reads`` reads),
    the numbers still come in the order of the whole list sorted by when each one's wait
    began: a number called again lately but waiting since long ago comes after those
    whose wait began later, a returned number never comes, and each number comes once
    with all its waiting calls."""
    from funnelwatch.telephony import missed

    monkeypatch.setattr(missed, "NEWEST_FIRST_READS", reads)

    rng = random.Random(7)
    numbers = [f"+97699001{i:03d}" for i in range(12)]
    for n in range(80):
        number = rng.choice(numbers)
        day, hour = rng.randint(2, 20), rng.randint(9, 17)
        outcome = rng.choice(["no_answer", "no_answer", "no_answer", "answered"])
        direction = rng.choice(["in", "in", "in", "out"])
        call(direction, outcome, at(2026, 3, day, hour, n % 60), number=number)
    now = at(2026, 3, 23, 12)
    whole = missed.overdue_numbers(now)
    assert 3 < len(whole) < len(numbers)  # some returned, some waiting: the case is real
    expected = sorted(whole, key=lambda n: (whole[n][0].started_at, n), reverse=True)

    chunks = list(missed.overdue_newest_first(now, chunk=chunk))
    walked = [n for overdue in chunks for n in overdue]
    assert walked == expected
    assert {n: [c.pk for c in calls] for overdue in chunks for n, calls in overdue.items()} == {
        n: [c.pk for c in calls] for n, calls in whole.items()
    }
