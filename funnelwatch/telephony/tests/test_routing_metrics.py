from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from funnelwatch.accounts.models import Absence
from funnelwatch.accounts.tokens import issue_token
from funnelwatch.crm import services
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.registry import get
from funnelwatch.telephony import routing
from funnelwatch.telephony.models import RoutingAssignment, RoutingRule
from funnelwatch.telephony.tests.factories import make_call

pytestmark = pytest.mark.django_db


def test_owner_first_then_weighted_round_robin_with_cap_and_absence(world, at):
    contact = services.create_contact(
        actor=world.head, name="Known", owner=world.bob, phone_numbers=["+97699112233"]
    )
    assert contact
    now = at(2026, 3, 2, 10)  # a Monday
    assert routing.route("99112233", now) == (world.bob, "owner")
    RoutingRule.objects.create(user=world.alice, weight=2)
    RoutingRule.objects.create(user=world.bob, weight=1, daily_cap=2)
    picks = [routing.route(f"9900000{i}", now)[0] for i in range(9)]
    # bob had one (owner) call today and a cap of 2: one more round-robin, then alice only
    assert picks.count(world.bob) == 1
    assert picks.count(world.alice) == 8
    # absence: alice is away tomorrow, bob takes everyone up to his cap
    tomorrow = now + dt.timedelta(days=1)
    Absence.objects.create(user=world.alice, start=tomorrow.date(), end=tomorrow.date())
    assert routing.route("99000100", tomorrow)[0] == world.bob
    # the owner is absent: round-robin instead
    Absence.objects.create(user=world.bob, start=tomorrow.date(), end=tomorrow.date())
    user, reason = routing.route("99112233", tomorrow)
    assert reason == "round_robin" and user is None  # both away
    report = routing.report(now - dt.timedelta(hours=1), now + dt.timedelta(days=2))
    assert {r["username"]: r["total"] for r in report} == {"alice": 8, "bob": 3}


def test_router_picks_what_assign_would_one_by_one(world, at):
    """The import's in-memory router: weights, daily caps (with picks already recorded
    today), absences, working hours and day changes give the same picks and records."""
    from django.db import transaction

    RoutingRule.objects.create(user=world.alice, weight=2, start_hour=9, end_hour=13)
    RoutingRule.objects.create(user=world.bob, weight=1, daily_cap=3)
    RoutingRule.objects.create(user=world.outsider, weight=1, daily_cap=1)
    RoutingAssignment.objects.create(
        user=world.bob, number="x", reason="owner", at=at(2026, 3, 2, 8)
    )
    Absence.objects.create(user=world.alice, start=dt.date(2026, 3, 3), end=dt.date(2026, 3, 3))
    calls = [(f"+9769900{i:04d}", at(2026, 3, 2 + i // 6, 8 + (i * 3) % 11)) for i in range(24)]

    def picks(run) -> list:
        with transaction.atomic():
            users = run()
            rows = list(
                RoutingAssignment.objects.order_by("pk").values_list(
                    "user_id", "number", "reason", "at"
                )
            )
            transaction.set_rollback(True)
        return [u and u.pk for u in users], rows

    def one_by_one() -> list:
        return [routing.assign(number, when) for number, when in calls]

    def router() -> list:
        r = routing.Router()
        users = [r.assign_unknown(number, when) for number, when in calls]
        r.save()
        return users

    expected = picks(one_by_one)
    # every rule took someone; on the day alice is away, caps leave callers unassigned
    assert set(expected[0]) == {world.alice.pk, world.bob.pk, world.outsider.pk, None}
    assert picks(router) == expected


def test_round_robin_outside_hours_falls_back(world, at):
    RoutingRule.objects.create(user=world.alice, start_hour=9, end_hour=12)
    RoutingRule.objects.create(user=world.bob, start_hour=12, end_hour=18)
    assert routing.round_robin(at(2026, 3, 2, 10)) == world.alice
    assert routing.round_robin(at(2026, 3, 2, 15)) == world.bob
    assert routing.round_robin(at(2026, 3, 2, 22)) is not None  # nobody on duty: still answered


def test_route_endpoint_needs_token(client, world, settings):
    settings.FUNNELWATCH_ROUTE_TOKEN = "pbx-token"
    services.create_contact(
        actor=world.head, name="Known", owner=world.alice, phone_numbers=["+97699112233"]
    )
    url = "/api/telephony/route"
    assert client.get(url, {"number": "99112233"}).status_code == 401
    assert client.get(url, {"number": "99112233", "token": "bad"}).status_code == 401
    # a user's API token is not the PBX token
    user_token = issue_token(world.head, "x")
    assert (
        client.get(
            url, {"number": "99112233"}, HTTP_AUTHORIZATION=f"Bearer {user_token}"
        ).status_code
        == 401
    )
    r = client.get(url, {"number": "99112233"}, HTTP_AUTHORIZATION="Bearer pbx-token")
    assert r.json() == {"extension": "101", "manager": "alice", "reason": "owner"}
    r = client.get(url, {"number": "99112233", "token": "pbx-token", "format": "text"})
    assert r.content == b"101"
    assert RoutingAssignment.objects.count() == 2


def test_unknown_inbound_caller_becomes_routed_lead(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = True
    RoutingRule.objects.create(user=world.bob, weight=1)
    call = make_call(
        direction="in", start=at(2026, 3, 2, 10), ext="101", answered=False, number="+97688001122"
    )
    assert call.contact.owner == world.bob
    assert call.deal.owner == world.bob and call.deal.source.name == "Phone call"
    again = make_call(direction="in", start=at(2026, 3, 2, 11), ext="101", number="+97688001122")
    assert again.contact == call.contact and again.deal == call.deal


def _value(key, period, ids=None):
    metric = get(key)
    points = list(metric.compute(period, ids))
    if metric.kind == "sum":
        return sum(p.value for p in points)
    if metric.kind == "ratio":
        w = sum(p.weight for p in points)
        return sum(p.value for p in points) / w if w else None
    if metric.kind == "median":
        vals = sorted(p.value for p in points)
        return vals[len(vals) // 2] if vals else None
    raise AssertionError(metric.kind)


def test_telephony_metrics(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    settings.FUNNELWATCH_CALL_SLA_MINUTES = 15
    d = at(2026, 3, 2, 10)
    make_call(direction="out", start=d, ext="101", talk=120)
    make_call(direction="out", start=d, ext="101", answered=False, number="+97699000009")
    make_call(direction="in", start=d, ext="102", talk=60, number="+97699000008")
    make_call(direction="in", start=d, ext="102", answered=False, number="+97699000001")
    make_call(
        direction="out", start=d + dt.timedelta(minutes=10), ext="101", number="+97699000001"
    )  # within SLA
    make_call(direction="in", start=d, ext="102", answered=False, number="+97699000002")
    make_call(
        direction="out", start=d + dt.timedelta(hours=2), ext="102", number="+97699000002"
    )  # late
    make_call(direction="in", start=d, ext="102", answered=False, number="+97699000003")
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    assert _value("calls_out", period) == 4
    assert _value("calls_out", period, {world.alice.pk}) == 3
    assert _value("calls_in", period) == 4
    assert _value("calls_connected", period) == 4
    assert _value("talk_minutes", period, {world.bob.pk}) == 1 + 1  # in 60s + callback 60s
    assert _value("missed_in", period) == 3
    assert _value("callback_pct", period) == pytest.approx(1 / 3)
    assert sorted(p.value for p in get("callback_minutes").compute(period, None)) == [10, 120]


def test_intake_metrics_use_real_calls(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    with time_machine.travel(at(2026, 3, 2, 10), tick=False):
        c1 = services.create_contact(actor=world.alice, name="A", phone_numbers=["+97699000011"])
        c2 = services.create_contact(actor=world.alice, name="B", phone_numbers=["+97699000012"])
        services.create_lead(actor=world.alice, title="A", owner=world.alice, contact=c1)
        services.create_lead(actor=world.alice, title="B", owner=world.alice, contact=c2)
    make_call(direction="out", start=at(2026, 3, 2, 9), number="+97699000011")  # before: no
    make_call(direction="out", start=at(2026, 3, 2, 10, 30), number="+97699000011")
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    assert _value("speed_to_first_call", period) == 30
    assert _value("leads_called_pct", period) == 0.5
    assert _value("leads_called_sla_pct", period) == 0
    assert get("speed_to_first_call").block == "intake"


def test_lead_goes_to_who_took_the_call_or_was_routed(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = True
    RoutingRule.objects.create(user=world.bob, weight=1)
    took = make_call(
        direction="in", start=at(2026, 3, 2, 10), ext="101", answered=True, number="+97688001133"
    )
    assert took.deal.owner == world.alice  # alice answered, bob would be next by routing
    # the PBX asked whom to ring: alice was chosen; the missed call's lead follows that
    RoutingRule.objects.create(user=world.alice, weight=5)
    user, _reason = routing.route("+97688001144", at(2026, 3, 2, 10, 59))
    missed = make_call(
        direction="in", start=at(2026, 3, 2, 11), ext="700", answered=False, number="+97688001144"
    )
    assert missed.deal.owner == user
