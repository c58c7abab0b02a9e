from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command

from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Deal
from funnelwatch.leads.models import SourceKind
from funnelwatch.leads.services import set_referrer
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.models import Message
from funnelwatch.mail.parsing import parse
from funnelwatch.mail.tests.letters import letter

pytestmark = pytest.mark.django_db


def receive(raw: bytes) -> None:
    store([Incoming(parse(raw), "INBOX", None, None)], None)


def test_letters_to_the_lead_address_from_unknown_senders_become_leads(world, settings):
    settings.FUNNELWATCH_LEADS_EMAIL = "sales@firm.test"
    receive(
        letter("New Client <new@client.test>", "sales@firm.test", "Quote please", msgid="<a@c>")
    )
    receive(letter("new@client.test", "sales@firm.test", "And another thing", msgid="<b@c>"))
    receive(letter("stranger@other.test", "alice@firm.test", "Hi", msgid="<c@c>"))
    deal = Deal.objects.get()
    assert (deal.origin.kind, deal.title, deal.contact.name) == (
        SourceKind.EMAIL,
        "Quote please",
        "New Client",
    )
    # Both letters from that sender are filed on the lead; the one to alice is not a lead.
    assert set(Message.objects.filter(deal=deal).values_list("subject", flat=True)) == {
        "Quote please",
        "And another thing",
    }
    assert Message.objects.get(subject="Hi").deal is None


def test_without_a_lead_address_letters_make_no_leads(world, settings):
    settings.FUNNELWATCH_LEADS_EMAIL = ""
    receive(letter("new@client.test", "sales@firm.test", "Quote", msgid="<a@c>"))
    assert not Deal.objects.exists()


def test_leads_command_lists_the_fields_of_the_issue(world, settings, at):
    settings.FUNNELWATCH_LEADS_EMAIL = "sales@firm.test"
    contact = crm.create_contact(
        actor=world.alice, name="Bat", owner=world.alice, phone_numbers=["+97699112233"]
    )
    manual = crm.create_lead(
        actor=world.alice, title="Manual", owner=world.alice, contact=contact, at=at(2026, 3, 2, 10)
    )
    set_referrer(manual, world.outsider, actor=world.head)
    from funnelwatch.telephony.models import Call

    Call.objects.create(
        provider="test",
        external_id="c1",
        direction="out",
        outcome="answered",
        started_at=at(2026, 3, 2, 10, 7),
        client_number="+97699112233",
        to_number="+97699112233",
        manager=world.alice,
    )
    crm.create_lead(actor=world.alice, title="Outside", owner=world.alice, at=at(2026, 3, 5, 10))
    out = StringIO()
    call_command(
        "leads", "--from", "2026-03-01", "--to", "2026-03-02", "--format", "json", stdout=out
    )
    rows = json.loads(out.getvalue())
    assert rows == [
        {
            "id": manual.pk,
            "source": "manual",
            "channel": "manual",
            "contact": "Bat",
            "phone": "+97699112233",
            "email": None,
            "owner": "alice",
            "referrer": "outsider",
            "created_at": at(2026, 3, 2, 10).astimezone(dt.UTC).isoformat(),
            "first_contact_at": at(2026, 3, 2, 10, 7).astimezone(dt.UTC).isoformat(),
        }
    ]
