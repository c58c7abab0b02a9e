"""Numbers fed by calls and letters: counted as their definitions say, credited to whom
the definitions say, and the rollups refreshed by every path that stores them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.models import Mailbox
from funnelwatch.mail.models import Message as Letter
from funnelwatch.mail.parsing import parse
from funnelwatch.mail.tests.letters import letter
from funnelwatch.metrics import engine, registry
from funnelwatch.telephony.models import Call
from funnelwatch.telephony.tests.factories import make_call

CLIENT_PHONE = "+97699112233"
CLIENT_MAIL = "client@acme.test"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a write as its own committed transaction (the rollup refresh runs after it)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def client_contact(world, settings, commit):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    return commit(
        services.create_contact,
        actor=world.alice,
        name="Acme",
        owner=world.alice,
        phone_numbers=[CLIENT_PHONE],
        emails=[CLIENT_MAIL],
    )


def put(frm: str, to: str, at: dt.datetime, msgid: str, mailbox=None, reply_to=None):
    raw = letter(frm, to, "Price", msgid=msgid, in_reply_to=reply_to, references=reply_to, date=at)
    return store([Incoming(parse(raw))], mailbox)


def rollup(key: str, manager, period: Period):
    return engine.group_values([key], period, {0: {manager.pk}})[0][key]


def raw(key: str, manager, period: Period):
    return engine.group_values([key], period, {0: {manager.pk}}, source="raw")[0][key]


def verify(start: dt.date, end: dt.date) -> None:
    """``funnelwatch rollups verify`` (an error when a rollup row differs from raw records)."""
    call_command("rollups", "verify", "--from", start.isoformat(), "--to", end.isoformat())


# --- objection handling attempts --------------------------------------------------------


def test_objection_attempts_count_calls_and_letters_on_the_deal(world, at, commit, client_contact):
    s, day = world.stages, dt.date(2026, 3, 2)
    period = Period(day, day + dt.timedelta(days=1))
    deal = commit(
        services.create_lead,
        actor=world.alice,
        title="Acme",
        owner=world.alice,
        contact=client_contact,
        at=at(2026, 3, 2, 9),
    )
    # Before the objections stage: not an attempt.
    commit(make_call, direction="out", start=at(2026, 3, 2, 9, 30), ext="101", number=CLIENT_PHONE)
    commit(services.move_stage, deal, s["Objections"], actor=world.alice, at=at(2026, 3, 2, 10))
    # While the deal stands in objections: bob's call on alice's deal (unanswered, still an
    # attempt) and alice's letter to the client count, for alice, the owner at the time...
    commit(
        make_call,
        direction="out",
        start=at(2026, 3, 2, 11),
        ext="102",
        number=CLIENT_PHONE,
        answered=False,
    )
    assert rollup("objection_attempts", world.alice, period) == 1
    commit(put, "alice@firm.test", CLIENT_MAIL, at(2026, 3, 2, 12), "<a1@firm.test>")
    # ...the client's own missed call and letter do not.
    commit(
        make_call,
        direction="in",
        start=at(2026, 3, 2, 13),
        ext="101",
        number=CLIENT_PHONE,
        answered=False,
    )
    commit(put, CLIENT_MAIL, "alice@firm.test", at(2026, 3, 2, 14), "<c1@acme.test>")
    assert Call.objects.filter(deal=deal).count() == 3
    assert Letter.objects.filter(deal=deal).count() == 2
    assert raw("objection_attempts", world.alice, period) == 2
    # The call and the letter refreshed the rollups themselves (no CRM event since).
    assert rollup("objection_attempts", world.alice, period) == 2
    assert rollup("objection_attempts", world.bob, period) == 0
    records = registry.get("objection_attempts").records(period, None)
    assert sorted(type(r).__name__ for r in records) == ["Call", "Message"]
    verify(day, day + dt.timedelta(days=1))


# --- numbers about a lead stay with its owner at creation --------------------------------


def test_reassigning_leads_keeps_last_months_call_numbers(world, at, commit, client_contact):
    feb = Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    other = commit(
        services.create_contact,
        actor=world.alice,
        name="Other",
        owner=world.alice,
        phone_numbers=["+97699445566"],
    )
    called = commit(
        services.create_lead,
        actor=world.alice,
        title="Called",
        owner=world.alice,
        contact=client_contact,
        at=at(2026, 2, 10, 10),
    )
    commit(
        make_call, direction="out", start=at(2026, 2, 10, 10, 10), ext="101", number=CLIENT_PHONE
    )
    forgotten = commit(
        services.create_lead,
        actor=world.alice,
        title="Forgotten",
        owner=world.alice,
        contact=other,
        at=at(2026, 2, 11, 10),
    )
    before = {k: rollup(k, world.alice, feb) for k in ("leads_called_pct", "speed_to_first_call")}
    assert before == {"leads_called_pct": 50.0, "speed_to_first_call": 10.0}
    # In March both leads go to bob: February's numbers do not move.
    for deal in (called, forgotten):
        commit(services.reassign, deal, world.bob, actor=world.head, at=at(2026, 3, 5, 10))
    for key, value in before.items():
        assert raw(key, world.alice, feb) == value
        assert rollup(key, world.alice, feb) == value
        assert raw(key, world.bob, feb) is None
        assert rollup(key, world.bob, feb) is None
    assert raw("leads_called_sla_pct", world.alice, feb) == 50.0
    assert registry.get("leads_called_pct").records(feb, {world.bob.pk}).count() == 0
    assert registry.get("leads_called_pct").records(feb, {world.alice.pk}).count() == 2
    verify(feb.start, dt.date(2026, 3, 10))


def test_a_later_first_call_refreshes_the_leads_day_for_its_owner_then(
    world, at, commit, client_contact
):
    """A lead alice got on Friday, handed to bob, and called by bob on Monday: the call
    changes alice's Friday, and the rollups of that day follow."""
    friday = Period(dt.date(2026, 2, 27), dt.date(2026, 2, 28))
    deal = commit(
        services.create_lead,
        actor=world.alice,
        title="Weekend",
        owner=world.alice,
        contact=client_contact,
        at=at(2026, 2, 27, 17),
    )
    commit(services.reassign, deal, world.bob, actor=world.head, at=at(2026, 2, 28, 9))
    assert rollup("leads_called_pct", world.alice, friday) == 0.0
    commit(make_call, direction="out", start=at(2026, 3, 2, 9, 20), ext="102", number=CLIENT_PHONE)
    assert rollup("leads_called_pct", world.alice, friday) == 100.0
    assert rollup("speed_to_first_call", world.alice, friday) == raw(
        "speed_to_first_call", world.alice, friday
    )
    verify(friday.start, dt.date(2026, 3, 3))


# --- letters stored through the shared BCC mailbox -------------------------------------


def test_letters_through_the_shared_bcc_mailbox_refresh_the_rollups(
    world, at, commit, client_contact
):
    bcc = Mailbox(user=world.head, host="mail.firm.test", login="crm-bcc", is_shared_bcc=True)
    bcc.set_password("x")
    bcc.save()
    monday, tuesday = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
    week = Period(monday, dt.date(2026, 3, 9))
    commit(put, CLIENT_MAIL, "alice@firm.test", at(2026, 3, 2, 16), "<q@acme.test>", bcc)
    assert rollup("emails_received", world.alice, week) == 1
    # Alice answers the next morning: her letter counts on Tuesday, and Monday's letter
    # now has its reply time (the day of the client's letter).
    commit(
        put,
        "alice@firm.test",
        CLIENT_MAIL,
        at(2026, 3, 3, 10),
        "<a@firm.test>",
        bcc,
        "<q@acme.test>",
    )
    assert rollup("emails_sent", world.alice, Period(tuesday, dt.date(2026, 3, 4))) == 1
    assert rollup("email_reply_minutes", world.alice, Period(monday, tuesday)) == 1080.0
    verify(monday, week.end)
