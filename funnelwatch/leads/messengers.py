"""Telegram (Bot API) and WhatsApp (Twilio): incoming messages become leads and a
conversation on the contact; replies from the deal page go back through the same API.

The APIs' addresses are settings (FUNNELWATCH_TELEGRAM_API_BASE, FUNNELWATCH_TWILIO_API),
so the tests talk to local stand-ins.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm.models import Deal
from funnelwatch.crm.services import DealError
from funnelwatch.leads.models import ChatMessage, SourceKind, TelegramBot
from funnelwatch.leads.services import Origin, capture, clean_phone, open_deal
from funnelwatch.telephony.providers import twilio

TIMEOUT = 15
BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")
MAX_TEXT = 4096


class ChannelError(Exception):
    """The outside service refused or could not be reached; the message says which."""


class BadUpdate(Exception):
    """An incoming update that cannot be read; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# --- Telegram ------------------------------------------------------------------------


def bot_api(token: str, method: str, payload: dict) -> dict:
    url = f"{settings.FUNNELWATCH_TELEGRAM_API_BASE.rstrip('/')}/bot{token}/{method}"
    try:
        response = requests.post(url, json=payload, timeout=TIMEOUT)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ChannelError(
            _("Telegram could not be reached: %(err)s") % {"err": type(exc).__name__}
        ) from None
    if not body.get("ok"):
        raise ChannelError(
            _("Telegram refused %(method)s: %(reason)s")
            % {"method": method, "reason": str(body.get("description", response.status_code))[:200]}
        )
    return body.get("result") or {}


def webhook_url(bot: TelegramBot) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("leads:telegram_hook", args=[bot.pk])


@transaction.atomic
def add_bot(*, name: str, token: str, actor: User) -> TelegramBot:
    """Check the token (getMe), store the bot, and point its webhook here (setWebhook)."""
    token = token.strip()
    if not BOT_TOKEN.fullmatch(token):
        raise DealError(_("Enter the token BotFather gave."), "token")
    me = bot_api(token, "getMe", {})
    with acting_as(actor):
        bot = TelegramBot(
            name=name.strip()[:100] or me.get("first_name", "")[:100] or "Telegram",
            username=str(me.get("username", ""))[:100],
        )
        bot.set_token(token)
        bot.save()
    bot_api(
        token,
        "setWebhook",
        {
            "url": webhook_url(bot),
            "secret_token": bot.webhook_secret,
            "allowed_updates": ["message"],
        },
    )
    return bot


def secret_matches(bot: TelegramBot, given: str) -> bool:
    return bool(given) and hmac.compare_digest(bot.webhook_secret.encode(), given.encode())


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadUpdate(_("Expected text."), field)
    return value[:limit]


def telegram_update(bot: TelegramBot, update: object) -> tuple[str, ChatMessage | None]:
    """Store one update: ("stored"|"repeat"|"ignored", the message)."""
    if not isinstance(update, dict):
        raise BadUpdate(_("Expected an object."), "update")
    message = update.get("message")
    if message is None:
        return "ignored", None  # edits, channel posts, callbacks: not conversations
    if not isinstance(message, dict):
        raise BadUpdate(_("Expected an object."), "message")
    chat = message.get("chat")
    sender = message.get("from") or {}
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise BadUpdate(_("Expected an object with a numeric id."), "message.chat")
    if not isinstance(message.get("message_id"), int):
        raise BadUpdate(_("Expected a number."), "message.message_id")
    if not isinstance(sender, dict):
        raise BadUpdate(_("Expected an object."), "message.from")
    if chat.get("type", "private") != "private":
        return "ignored", None
    text = _text(message.get("text") or message.get("caption"), "message.text", MAX_TEXT)
    shared = message.get("contact") if isinstance(message.get("contact"), dict) else {}
    phone = ""
    if shared.get("phone_number"):
        try:
            phone = clean_phone(str(shared["phone_number"]), "message.contact.phone_number")
        except DealError:
            phone = ""
        text = text or str(shared["phone_number"])[:40]
    if not text:
        return "ignored", None
    date = message.get("date")
    at = (
        dt.datetime.fromtimestamp(date, tz=dt.UTC)
        if isinstance(date, int) and 0 < date < 32503680000
        else timezone.now()
    )
    at = min(at, timezone.now())
    name = " ".join(
        _text(sender.get(k), f"message.from.{k}", 100) for k in ("first_name", "last_name")
    ).strip() or _text(sender.get("username"), "message.from.username", 100)
    address = str(chat["id"])
    return _incoming(
        SourceKind.TELEGRAM,
        f"tg:{bot.pk}:{address}:{message['message_id']}",
        address,
        text,
        at,
        name=name,
        phone=phone,
        bot=bot,
    )


def _incoming(
    channel: str,
    external_id: str,
    address: str,
    text: str,
    at: dt.datetime,
    *,
    name: str,
    phone: str = "",
    bot: TelegramBot | None = None,
) -> tuple[str, ChatMessage | None]:
    if ChatMessage.objects.filter(channel=channel, external_id=external_id).exists():
        return "repeat", None
    try:
        with transaction.atomic():
            earlier = (
                ChatMessage.objects.filter(channel=channel, address=address)
                .select_related("contact")
                .order_by("-at", "-pk")
                .first()
            )
            contact, deal = (earlier.contact, None) if earlier else (None, None)
            if contact is not None:
                deal = open_deal(contact)
            if deal is None:
                label = {SourceKind.TELEGRAM: "Telegram", SourceKind.WHATSAPP: "WhatsApp"}[channel]
                got = (
                    capture(
                        origin_of=Origin(channel, bot=bot),
                        name=name or (contact.name if contact else ""),
                        phone=phone,
                        address=f"{channel}:{address}",
                        title=f"{label}: {name or phone or address}",
                        at=at,
                    )
                    if contact is None
                    else _lead_for(contact, channel, bot, at, name, label)
                )
                contact, deal = got.contact, got.deal
            with acting_as(None, source="integration", name=channel, at=at):
                row = ChatMessage.objects.create(
                    contact=contact,
                    deal=deal,
                    channel=channel,
                    bot=bot,
                    address=address,
                    direction=ChatMessage.Direction.IN,
                    text=text,
                    external_id=external_id[:100],
                    at=at,
                )
    except IntegrityError:
        return "repeat", None  # the same update arriving twice at once
    return "stored", row


def _lead_for(contact, channel, bot, at, name, label):
    """A new lead for a contact we already talk to whose deals are closed."""
    from funnelwatch.crm import services as crm
    from funnelwatch.leads.services import Captured, choose_owner, origin

    owner = choose_owner(contact, "", at)
    with origin(Origin(channel, bot=bot)):
        deal = crm.create_lead(
            actor=None,
            title=f"{label}: {name or contact.name}",
            owner=owner,
            contact=contact,
            at=at,
        )
    return Captured(contact, deal, True)


# --- WhatsApp through Twilio ---------------------------------------------------------


def twilio_signature_ok(url: str, params: dict[str, str], given: str) -> bool:
    return twilio.verify(settings.FUNNELWATCH_TWILIO_AUTH_TOKEN, url, params, given)


def whatsapp_message(
    params: dict[str, str], at: dt.datetime | None = None
) -> tuple[str, ChatMessage | None]:
    sender = params.get("From", "")
    if not sender.startswith("whatsapp:"):
        raise BadUpdate(_("Expected whatsapp:+number."), "From")
    sid = params.get("MessageSid", "")
    if not sid or len(sid) > 64:
        raise BadUpdate(_("Missing."), "MessageSid")
    try:
        phone = clean_phone(sender.removeprefix("whatsapp:"), "From")
    except DealError as exc:
        raise BadUpdate(exc.message, "From") from None
    text = params.get("Body", "")[:MAX_TEXT]
    if not text:
        text = _("(a message without text)")
    name = params.get("ProfileName", "")[:100]
    return _incoming(
        SourceKind.WHATSAPP, f"wa:{sid}", phone, text, at or timezone.now(), name=name, phone=phone
    )


def _twilio_send(to: str, text: str) -> str:
    sid, token = settings.FUNNELWATCH_TWILIO_ACCOUNT_SID, settings.FUNNELWATCH_TWILIO_AUTH_TOKEN
    sender = settings.FUNNELWATCH_WHATSAPP_FROM
    if not (sid and token and sender):
        raise ChannelError(_("WhatsApp is not set up (Twilio account and sender)."))
    url = f"{settings.FUNNELWATCH_TWILIO_API.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    try:
        response = requests.post(
            url,
            data={"From": sender, "To": f"whatsapp:{to}", "Body": text},
            auth=(sid, token),
            timeout=TIMEOUT,
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ChannelError(
            _("Twilio could not be reached: %(err)s") % {"err": type(exc).__name__}
        ) from None
    if response.status_code >= 300 or not body.get("sid"):
        raise ChannelError(
            _("Twilio refused the message: %(reason)s")
            % {"reason": str(body.get("message", response.status_code))[:200]}
        )
    return str(body["sid"])


# --- replies ---------------------------------------------------------------------------


def reply(deal: Deal, text: str, *, actor: User) -> ChatMessage:
    """Send ``text`` to the deal's contact in the messenger they last wrote from."""
    text = text.strip()
    if not text:
        raise DealError(_("Write the message."), "text")
    if len(text) > MAX_TEXT:
        raise DealError(_("At most %(n)s characters.") % {"n": MAX_TEXT}, "text")
    last = (
        ChatMessage.objects.filter(contact_id=deal.contact_id, direction=ChatMessage.Direction.IN)
        .select_related("bot")
        .order_by("-at", "-pk")
        .first()
        if deal.contact_id
        else None
    )
    if last is None:
        raise DealError(_("The client has not written in a messenger yet."), "text")
    if last.channel == SourceKind.TELEGRAM:
        if last.bot is None or not last.bot.active:
            raise ChannelError(_("The Telegram bot is not active."))
        result = bot_api(
            last.bot.plain_token(), "sendMessage", {"chat_id": int(last.address), "text": text}
        )
        external = f"tg:{last.bot_id}:{last.address}:{result.get('message_id', '')}"
    else:
        external = f"wa:{_twilio_send(last.address, text)}"
    with transaction.atomic(), acting_as(actor):
        return ChatMessage.objects.create(
            contact_id=deal.contact_id,
            deal=deal,
            channel=last.channel,
            bot=last.bot,
            address=last.address,
            direction=ChatMessage.Direction.OUT,
            text=text,
            external_id=external[:100],
            author=actor,
        )
