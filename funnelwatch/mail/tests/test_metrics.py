"""Mail metrics through the registry."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from funnelwatch.crm import services as crm
from funnelwatch.lib.dates import Period
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.parsing import parse
from funnelwatch.mail.tests.letters import letter
from funnelwatch.metrics import registry

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
PERIOD = Period(DAY, DAY + dt.timedelta(days=1))


def put(frm, to, subject, at, msgid, reply_to=None):
    raw = letter(frm, to, subject, msgid=msgid, in_reply_to=reply_to, references=reply_to, date=at)
    store([Incoming(parse(raw))], None)


@pytest.fixture
def letters(world, at):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    crm.create_lead(
        actor=world.alice, title="Acme", owner=world.alice, contact=contact, at=at(2026, 3, 1, 9)
    )
    # Thread 1: question 10:00, a follow-up 10:30, answer 11:00 -> 60 minutes (from 10:00).
    put("client@acme.test", "alice@firm.test", "Q1", at(2026, 3, 2, 10), "<q1@a>")
    put(
        "client@acme.test", "alice@firm.test", "Re: Q1", at(2026, 3, 2, 10, 30), "<q1b@a>", "<q1@a>"
    )
    put("alice@firm.test", "client@acme.test", "Re: Q1", at(2026, 3, 2, 11), "<a1@f>", "<q1@a>")
    # Thread 2: question 12:00, answer 12:20 -> 20 minutes.
    put("client@acme.test", "alice@firm.test", "Q2", at(2026, 3, 2, 12), "<q2@a>")
    put("alice@firm.test", "client@acme.test", "Re: Q2", at(2026, 3, 2, 12, 20), "<a2@f>", "<q2@a>")
    # Thread 3: question at 14:00 never answered.
    put("client@acme.test", "alice@firm.test", "Q3", at(2026, 3, 2, 14), "<q3@a>")
    # Not a client (no contact): not counted anywhere.
    put("spam@nowhere.test", "alice@firm.test", "Buy", at(2026, 3, 2, 15), "<s@n>")
    return contact


def values(key, manager_ids=None):
    return list(registry.get(key).compute(PERIOD, manager_ids))


def test_sent_and_received(world, letters):
    sent, received = values("emails_sent"), values("emails_received")
    assert [(p.manager_id, p.day, p.value) for p in sent] == [(world.alice.pk, DAY, 2)]
    assert [(p.manager_id, p.value) for p in received] == [(world.alice.pk, 4)]
    assert values("emails_sent", {world.bob.pk}) == []
    assert registry.get("emails_sent").records(PERIOD, None).count() == 2


def test_reply_minutes_median_samples(world, letters):
    samples = sorted(p.value for p in values("email_reply_minutes"))
    assert samples == [20.0, 60.0]
    assert registry.get("email_reply_minutes").kind == "median"


def test_unanswered_over_the_setting(world, letters, at, settings):
    settings.FUNNELWATCH_MAIL_UNANSWERED_HOURS = 24
    with time_machine.travel(at(2026, 3, 3, 13), tick=False):
        assert values("emails_unanswered") == []
    with time_machine.travel(at(2026, 3, 3, 15), tick=False):
        (point,) = values("emails_unanswered")
        assert (point.manager_id, point.value) == (world.alice.pk, 1)
        rec = registry.get("emails_unanswered").records(PERIOD, None)
        assert [m.subject for m in rec] == ["Q3"]
