"""Demo leads: a web form, a Telegram bot, WhatsApp and e-mail leads of the last days (made
through the same code the live channels use, without reaching any outside service), the
CRM part's website and referral leads marked as such, and an employee who passes leads on.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from funnelwatch.audit.trail import acting_as
from funnelwatch.crm.demo import person_name
from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.leads import messengers, webforms
from funnelwatch.leads.models import ChatMessage, LeadOrigin, SourceKind, TelegramBot, WebForm
from funnelwatch.leads.services import Origin, capture
from funnelwatch.lib.dates import Period, local_date
from funnelwatch.telephony.demo import call_new_leads

REFERRER = "bold"  # the demo's manager login passes on contacts from chats too
# Texts are written in the demo's language: marked here, translated when generated.
PEOPLE = [  # first and last name (person names), phone, e-mail, message
    ("Enkhjin", "Dorj", "+97699001101", "enkhjin@client.demo",
     gettext_noop("Need 12 laptops for the office")),
    ("Munkh-Orgil", "Bat", "+97699001102", "",
     gettext_noop("Price of the annual service contract?")),
    ("Solongo", "Ganbaatar", "+97699001103", "solongo@client.demo",
     gettext_noop("Please call me about delivery")),
]  # fmt: skip
CHATS = [  # chat id, first and last name, messages, the phone number the client leaves
    (9101, "Oyun", "Erdene",
     [gettext_noop("Hello! Do you have printers in stock?"), gettext_noop("For a school, 6 pcs")],
     "+97699001111"),
    (9102, "Temuulen", "", [gettext_noop("What are your opening hours?")], "+97699001112"),
    (9103, "Anu", "Sukh", [gettext_noop("Can I get a quote for 40 chairs?")], "+97699001113"),
]  # fmt: skip
WHATSAPP = [("+97688002201", "Ganzorig", gettext_noop("Is delivery to Darkhan possible?"))]
LETTERS = [
    ("Batbayar", "Tsogt", "batbayar@client.demo", "+97699001121",
     gettext_noop("Request for a quotation")),
]  # fmt: skip
FORM_NAME = gettext_noop("Website contact form")
BOT_NAME = gettext_noop("Shop bot")
ANSWER = gettext_noop("Good afternoon! Yes, we have them. 6 printers: 5,400,000 MNT.")


def _full_name(first: str, last: str) -> str:
    return " ".join(person_name(n) for n in (first, last) if n)


def generate(ctx) -> None:
    rng = ctx.rng_for("leads")
    now = ctx.now
    last_before = Deal.objects.aggregate(m=Max("pk"))["m"] or 0
    head = ctx.users.get("head")
    referrer = ctx.users.get(REFERRER) or (ctx.managers[0] if ctx.managers else None)
    with acting_as(head, at=now):
        form = WebForm.objects.create(
            name=_(FORM_NAME), thank_you_url="https://shop.example/thanks"
        )
        bot = TelegramBot(name=_(BOT_NAME), username="funnelwatch_demo_bot")
        bot.set_token("100000:demo-token-not-connected-anywhere")
        bot.save()
    # The CRM part's leads from the website and by referral get their origin.
    LeadOrigin.objects.filter(deal__source__name=_("Website form")).update(
        kind=SourceKind.WEB_FORM, form=form, utm_source="google", utm_medium="cpc"
    )
    LeadOrigin.objects.filter(deal__source__name=_("Inbound call")).update(kind=SourceKind.CALL)
    LeadOrigin.objects.filter(deal__source__name="Facebook").update(
        utm_source="facebook", utm_medium="social"
    )
    passed = list(
        Deal.objects.filter(Q(source__name=_("Referral")) | Q(source__name="Facebook"))
        .exclude(owner=referrer)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if referrer is not None:
        chosen = [pk for pk in passed if rng.random() < 0.6]
        LeadOrigin.objects.filter(deal_id__in=chosen).update(referrer=referrer)
    # Leads of the last days, through each channel.
    for i, (first, last, phone, email, message) in enumerate(PEOPLE):
        at = now - dt.timedelta(hours=3 + 20 * i)
        webforms.submit(
            form,
            {
                "name": _full_name(first, last),
                "phone": phone,
                "email": email,
                "message": _(message),
                "utm_source": "google",
                "utm_campaign": "spring-sale",
                "referrer": referrer.username if i == 1 and referrer is not None else "",
            },
            f"198.51.100.{10 + i}",
            at=at,
        )
    for i, (chat_id, first, last, texts, phone) in enumerate(CHATS):
        start = now - dt.timedelta(hours=2 + 26 * i)
        for j, text in enumerate(texts):
            when = start + dt.timedelta(minutes=3 * j)
            messengers.telegram_update(
                bot,
                {
                    "update_id": chat_id * 10 + j,
                    "message": {
                        "message_id": j + 1,
                        "from": {
                            "id": chat_id,
                            "first_name": person_name(first),
                            "last_name": person_name(last) if last else "",
                        },
                        "chat": {"id": chat_id, "type": "private"},
                        "date": int(when.timestamp()),
                        "text": _(text),
                    },
                },
            )
        first_in = ChatMessage.objects.filter(address=str(chat_id)).first()
        deal = first_in.deal
        # The client leaves a number in the chat; the manager adds it and calls.
        with acting_as(deal.owner, at=start + dt.timedelta(minutes=4)):
            ContactPhone.objects.create(contact=first_in.contact, number=phone, raw=phone)
        if i == 0:
            with acting_as(deal.owner, at=start + dt.timedelta(minutes=9)):
                ChatMessage.objects.create(
                    contact=first_in.contact,
                    deal=deal,
                    channel=SourceKind.TELEGRAM,
                    bot=bot,
                    address=str(chat_id),
                    direction=ChatMessage.Direction.OUT,
                    text=_(ANSWER),
                    external_id=f"tg:{bot.pk}:{chat_id}:demo-answer",
                    author=deal.owner,
                    at=start + dt.timedelta(minutes=9),
                )
    for i, (phone, name, text) in enumerate(WHATSAPP):
        messengers.whatsapp_message(
            {
                "From": f"whatsapp:{phone}",
                "Body": _(text),
                "MessageSid": f"SMdemo{i}",
                "ProfileName": person_name(name),
            },
            at=now - dt.timedelta(hours=5),
        )
    for first, last, email, phone, subject in LETTERS:
        capture(
            origin_of=Origin(SourceKind.EMAIL),
            name=_full_name(first, last),
            email=email,
            phone=phone,  # from the letter's signature
            title=_(subject),
            at=now - dt.timedelta(hours=26),
        )
    capture(
        origin_of=Origin(SourceKind.IMPORT),
        name=_full_name("Zolboo", "Enkhbold"),
        phone="+97699001199",
        title=_("Exhibition list: %(name)s") % {"name": _full_name("Zolboo", "Enkhbold")},
        at=now - dt.timedelta(days=2),
    )
    # Every lead gets its first call within minutes, like the CRM part's leads.
    called = call_new_leads(
        ctx, Deal.objects.filter(pk__gt=last_before).select_related("owner").order_by("pk"), rng
    )
    _refresh(ctx)
    ctx.notes.append(
        f"leads: a web form, a Telegram bot, WhatsApp and e-mail leads ({called} called); "
        f"{getattr(referrer, 'username', 'nobody')} passes leads on"
    )


def _refresh(ctx) -> None:
    from funnelwatch.leads.metrics import LEAD_KEYS
    from funnelwatch.metrics.engine import rebuild

    today = local_date(ctx.now, ctx.now.tzinfo)
    first = local_date(ctx.start, ctx.now.tzinfo)
    rebuild(Period(first, today + dt.timedelta(days=1)), keys=LEAD_KEYS)
