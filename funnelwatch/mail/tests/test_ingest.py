"""Threading, matching and dedupe of stored letters (no server needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from funnelwatch.crm import services as crm
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.models import Direction, Message
from funnelwatch.mail.parsing import parse
from funnelwatch.mail.tests.letters import letter

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def put(*args, **kw):
    kw.setdefault("date", T0)
    store([Incoming(parse(letter(*args, **kw)))], None)


def test_subject_fallback_joins_a_thread_when_headers_are_missing(world):
    put("client@acme.test", "alice@firm.test", "Delivery terms", msgid="<d1@acme.test>")
    put(
        "alice@firm.test",
        "client@acme.test",
        "RE: Delivery terms",
        msgid="<d2@firm.test>",
        date=T0 + dt.timedelta(hours=2),
    )
    put(
        "other@else.test",
        "bob@firm.test",
        "Re: Delivery terms",
        msgid="<d3@else.test>",
        date=T0 + dt.timedelta(hours=3),
    )
    put(
        "client@acme.test",
        "alice@firm.test",
        "Re: Delivery terms",
        msgid="<d4@acme.test>",
        date=T0 + dt.timedelta(days=90),
    )
    put(
        "stranger@x.test",
        "alice@firm.test",
        "Delivery terms",
        msgid="<d5@x.test>",
        date=T0 + dt.timedelta(hours=4),
    )
    threads = dict(Message.objects.values_list("message_id", "thread"))
    assert threads["d2@firm.test"] == "d1@acme.test"
    assert threads["d3@else.test"] == "d3@else.test"  # other people: another thread
    assert threads["d4@acme.test"] == "d4@acme.test"  # too late for the fallback
    assert threads["d5@x.test"] == "d5@x.test"  # only alice in common: not the same thread


def test_reply_arriving_before_its_parent_shares_the_thread(world):
    put(
        "alice@firm.test",
        "client@acme.test",
        "Re: x",
        msgid="<child@f>",
        in_reply_to="<parent@a>",
        references="<root@a> <parent@a>",
    )
    put(
        "client@acme.test",
        "alice@firm.test",
        "Re: x",
        msgid="<parent@a>",
        in_reply_to="<root@a>",
        references="<root@a>",
    )
    put("alice@firm.test", "client@acme.test", "x", msgid="<root@a>")
    assert set(Message.objects.values_list("thread", flat=True)) == {"root@a"}


def test_same_letter_twice_is_stored_once(world):
    raw = letter("client@acme.test", "alice@firm.test", "Twice")  # no Message-ID at all
    assert store([Incoming(parse(raw)), Incoming(parse(raw))], None)[0] == 1
    assert store([Incoming(parse(raw))], None)[:2] == (0, 1)
    assert Message.objects.get().message_id_synthesised


def test_owner_and_deal_of_a_letter_to_a_contact_without_manager_address(world):
    contact = crm.create_contact(
        actor=world.bob, name="C", owner=world.bob, emails=["c@client.test"]
    )
    older = crm.create_lead(actor=world.bob, title="old", owner=world.bob, contact=contact)
    newer = crm.create_lead(actor=world.alice, title="new", owner=world.alice, contact=contact)
    put("c@client.test", "sales@firm.test", "Hi", msgid="<hi@c>")
    msg = Message.objects.get()
    assert msg.direction == Direction.IN
    assert msg.contact_id == contact.pk
    assert msg.deal_id in (older.pk, newer.pk)
    assert msg.owner_id == Message.objects.get().deal.owner_id
    # A letter from alice to the contact goes on alice's deal.
    put("alice@firm.test", "C <C@Client.test>", "Re: Hi", msgid="<re@f>", in_reply_to="<hi@c>")
    assert Message.objects.get(message_id="re@f").deal_id == newer.pk


def test_sync_task_and_periodic_job(world, monkeypatch):
    from funnelwatch.core import periodic
    from funnelwatch.mail import services, sync
    from funnelwatch.mail.models import Security

    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="imap.test",
        port=993,
        login="a",
        password="pw",
        security=Security.SSL,
    )
    seen = []
    monkeypatch.setattr(sync, "sync_mailbox", lambda m: seen.append(m.pk) or sync.SyncResult(m.pk))
    results = dict(periodic.run_due(only="mail.sync", force=True))
    assert results["mail.sync"] == "queued 1 mailboxes"
    assert seen == [box.pk]


def test_reply_stored_before_its_parent_moves_to_the_parents_thread(world):
    put(
        "alice@firm.test",
        "client@acme.test",
        "Re: y",
        msgid="<c@f>",
        in_reply_to="<p@a>",
        references="<p@a>",
    )
    put("client@acme.test", "alice@firm.test", "other subject", msgid="<root@a>")
    put(
        "client@acme.test",
        "alice@firm.test",
        "Re: other subject",
        msgid="<p@a>",
        in_reply_to="<root@a>",
        references="<root@a>",
    )
    assert set(Message.objects.values_list("thread", flat=True)) == {"root@a"}
