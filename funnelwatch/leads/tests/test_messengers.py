from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert, Kind, Status
from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import Deal
from funnelwatch.crm.services import DealError
from funnelwatch.leads import messengers
from funnelwatch.leads.models import ChatMessage, SourceKind, TelegramBot
from funnelwatch.leads.tests.standins import TOKEN
from funnelwatch.telephony.providers import twilio

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(world, standin):
    return messengers.add_bot(name="Shop", token=TOKEN, actor=world.head)


def update(update_id, message_id, text, chat_id=777, **extra):
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Saraa", "last_name": "B"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Saraa"},
            "date": 1772416800,
            "text": text,
            **extra,
        },
    }


def send(client, bot, body, secret=None):
    return client.post(
        reverse("leads:telegram_hook", args=[bot.pk]),
        body,
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=bot.webhook_secret if secret is None else secret,
    )


def test_connecting_a_bot_checks_the_token_and_sets_the_webhook(bot, standin):
    methods = [c["path"].rsplit("/", 1)[1] for c in standin.calls]
    assert methods == ["getMe", "setWebhook"]
    hook = standin.calls[1]["body"]
    assert hook["url"] == f"https://crm.example.com/leads/hooks/telegram/{bot.pk}/"
    assert hook["secret_token"] == bot.webhook_secret
    assert bot.username == "shop_bot"
    assert bot.token != TOKEN and bot.plain_token() == TOKEN  # encrypted at rest
    assert AuditEvent.objects.filter(object_type="leads.telegrambot").get().actor_id is not None


def test_a_wrong_token_is_refused_and_nothing_stored(world, standin):
    with pytest.raises(messengers.ChannelError):
        messengers.add_bot(name="x", token="1:wrong-token-BBBBBBBBBBBBBBBBBBBB", actor=world.head)
    with pytest.raises(DealError):
        messengers.add_bot(name="x", token="1:/../x", actor=world.head)
    assert not TelegramBot.objects.exists()


def test_messages_become_a_lead_and_a_conversation(client, bot, world):
    assert send(client, bot, update(1, 10, "Hello, price?")).json() == {"status": "stored"}
    assert send(client, bot, update(1, 10, "Hello, price?")).json() == {"status": "repeat"}
    assert send(client, bot, update(2, 11, "For 20 pcs")).json() == {"status": "stored"}
    deal = Deal.objects.get()
    assert (deal.origin.kind, deal.origin.bot) == (SourceKind.TELEGRAM, bot)
    assert deal.contact.name == "Saraa B"
    chat = list(ChatMessage.objects.values_list("text", "deal_id", "direction"))
    assert chat == [("Hello, price?", deal.pk, "in"), ("For 20 pcs", deal.pk, "in")]
    client.force_login(deal.owner)
    page = client.get(reverse("crm:deal", args=[deal.pk])).content.decode()
    assert "For 20 pcs" in page and reverse("leads:reply", args=[deal.pk]) in page


def test_a_bad_secret_or_body_is_refused(client, bot):
    assert send(client, bot, update(1, 10, "x"), secret="wrong").status_code == 403
    assert send(client, bot, update(1, 10, "x"), secret="").status_code == 403
    bad = send(client, bot, {"update_id": 1, "message": {"message_id": "x", "chat": {"id": 1}}})
    assert bad.status_code == 400 and "message_id" in bad.json()["detail"]
    assert send(client, bot, "[").status_code == 400
    assert send(client, bot, {"update_id": 3, "edited_message": {}}).json() == {"status": "ignored"}
    assert not ChatMessage.objects.exists() and not Deal.objects.exists()


def test_answering_from_the_deal_page_sends_through_the_bot(client, bot, standin, world):
    send(client, bot, update(1, 10, "Hello"))
    deal = Deal.objects.get()
    client.force_login(world.reviewer)
    assert client.post(reverse("leads:reply", args=[deal.pk]), {"text": "Hi"}).status_code == 403
    client.force_login(world.bob if deal.owner != world.bob else world.alice)
    assert client.post(reverse("leads:reply", args=[deal.pk]), {"text": "Hi"}).status_code == 404
    client.force_login(deal.owner)
    assert client.post(reverse("leads:reply", args=[deal.pk]), {"text": " "}).status_code == 400
    response = client.post(reverse("leads:reply", args=[deal.pk]), {"text": "20 pcs: 2,000,000"})
    assert response.status_code == 302
    sent = standin.calls[-1]
    assert sent["path"] == f"/bot{TOKEN}/sendMessage"
    assert sent["body"] == {"chat_id": 777, "text": "20 pcs: 2,000,000"}
    out = ChatMessage.objects.get(direction="out")
    assert (out.author, out.deal, out.text) == (deal.owner, deal, "20 pcs: 2,000,000")
    event = AuditEvent.objects.get(object_type="leads.chatmessage", object_id=str(out.pk))
    assert event.actor == deal.owner
    standin.fail_next = True
    client.post(reverse("leads:reply", args=[deal.pk]), {"text": "again"})
    assert ChatMessage.objects.filter(direction="out").count() == 1  # refused: not stored


def test_a_messenger_lead_without_phone_raises_the_not_called_alert_until_answered(
    client, bot, world, at
):
    with time_machine.travel(at(2026, 3, 2, 10), tick=False):
        body = update(1, 10, "Hello")
        body["message"]["date"] = int(at(2026, 3, 2, 10).timestamp())
        send(client, bot, body)
    deal = Deal.objects.get()
    with time_machine.travel(at(2026, 3, 2, 10, 30), tick=False):
        engine.evaluate(kinds=[Kind.LEAD_NOT_CALLED])
    alert = Alert.objects.get()
    assert alert.subject == deal
    with time_machine.travel(at(2026, 3, 2, 10, 40), tick=False):
        messengers.reply(deal, "Hello! How can we help?", actor=deal.owner)
        engine.evaluate(kinds=[Kind.LEAD_NOT_CALLED])
    assert Alert.objects.get().status == Status.RESOLVED


def _signed(client, params, token="twilio-token"):
    url = "http://testserver" + reverse("leads:whatsapp_hook")
    return client.post(
        reverse("leads:whatsapp_hook"),
        params,
        HTTP_X_TWILIO_SIGNATURE=twilio.signature(token, url, params),
    )


WA = {
    "From": "whatsapp:+97688001122",
    "To": "whatsapp:+14155238886",
    "Body": "Do you deliver?",
    "MessageSid": "SM" + "a" * 32,
    "ProfileName": "Tuya",
}


def test_whatsapp_messages_become_a_lead_and_replies_go_through_twilio(client, standin, world):
    response = _signed(client, WA)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert _signed(client, WA).status_code == 200  # Twilio's retry: stored once
    deal = Deal.objects.get()
    assert deal.origin.kind == SourceKind.WHATSAPP
    assert list(deal.contact.phones.values_list("number", flat=True)) == ["+97688001122"]
    assert ChatMessage.objects.count() == 1
    client.force_login(deal.owner)
    client.post(reverse("leads:reply", args=[deal.pk]), {"text": "Yes, free in the city"})
    sent = standin.calls[-1]
    assert sent["path"] == f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    assert sent["body"] == {
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+97688001122",
        "Body": "Yes, free in the city",
    }
    assert ChatMessage.objects.get(direction="out").external_id.startswith("wa:SM")


def test_whatsapp_refuses_bad_signatures_and_bad_senders(client, standin):
    assert _signed(client, WA, token="other").status_code == 403
    assert client.post(reverse("leads:whatsapp_hook"), WA).status_code == 403
    bad = _signed(client, {**WA, "From": "+97688001122"})
    assert bad.status_code == 400 and "From" in bad.json()["detail"]
    assert not Deal.objects.exists()


def test_a_known_phone_on_whatsapp_lands_on_the_known_deal(client, standin, world):
    from funnelwatch.crm import services as crm

    contact = crm.create_contact(
        actor=world.bob, name="Tuya", owner=world.bob, phone_numbers=["+97688001122"]
    )
    deal = crm.create_lead(actor=world.bob, title="Open", owner=world.bob, contact=contact)
    _signed(client, WA)
    assert Deal.objects.count() == 1
    assert ChatMessage.objects.get().deal == deal
