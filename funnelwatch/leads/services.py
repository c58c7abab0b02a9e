"""Turning what arrives from outside into leads: one place for every channel.

:func:`capture` finds the person (a known phone or e-mail lands on the known contact and
its open deal), or creates the contact and the lead, with its origin, the owner chosen by
the call routing rules (``funnelwatch.telephony.routing``), in one transaction.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Role, User
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Contact, ContactEmail, ContactPhone, Deal, Outcome
from funnelwatch.crm.services import DealError
from funnelwatch.crm.signals import crm_event
from funnelwatch.leads.models import (
    UTM_FIELDS,
    ChatMessage,
    LeadOrigin,
    SourceKind,
    TelegramBot,
    WebForm,
)
from funnelwatch.lib import phones


@dataclass(frozen=True)
class Origin:
    kind: str
    form: WebForm | None = None
    bot: TelegramBot | None = None
    utm: dict[str, str] = field(default_factory=dict)
    referrer: User | None = None


_pending: contextvars.ContextVar[Origin | None] = contextvars.ContextVar(
    "lead_origin", default=None
)


@contextmanager
def origin(value: Origin) -> Iterator[None]:
    """Leads created inside the block get this origin (see :func:`record_origin`)."""
    token = _pending.set(value)
    try:
        yield
    finally:
        _pending.reset(token)


@functools.cache
def _call_source_names() -> frozenset[str]:
    """The name of the calls' lead source in every language (telephony names it in the
    installation's language when it first makes it)."""
    names = set()
    for lang, _name in settings.LANGUAGES:
        with translation.override(lang):
            names.add(_("Phone call").lower())
    return frozenset(names)


def _kind_of_source(deal: Deal) -> str:
    """The origin of a lead made elsewhere (the telephony import, the deal form), from
    its CRM source."""
    if deal.source_id is None:
        return SourceKind.MANUAL
    name = deal.source.name.strip().lower()
    if name in _call_source_names():
        return SourceKind.CALL
    if "import" in name or "импорт" in name:
        return SourceKind.IMPORT
    return SourceKind.MANUAL


def record_origin(deal: Deal) -> LeadOrigin:
    """The origin row of a new lead: the pending one, else from the deal's source. Called
    for every ``lead_created``, so every lead has one."""
    pending = _pending.get() or Origin(_kind_of_source(deal))
    utm = {k: (pending.utm.get(k) or "")[:200] for k in UTM_FIELDS}
    row, _created = LeadOrigin.objects.get_or_create(
        deal=deal,
        defaults={
            "kind": pending.kind,
            "form": pending.form,
            "bot": pending.bot,
            "referrer": pending.referrer,
            "created_at": deal.created_at,
            **utm,
        },
    )
    return row


# --- finding the person ------------------------------------------------------------


def clean_phone(raw: str, field_name: str = "phone") -> str:
    raw = (raw or "").strip()
    if not raw:
        return ""
    if len(raw) > 40:
        raise DealError(_("The phone number is too long."), field_name)
    try:
        return phones.normalize(raw, settings.FUNNELWATCH_PHONE_REGION)
    except phones.InvalidPhone:
        raise DealError(_("Enter a valid phone number."), field_name) from None


def clean_email(raw: str, field_name: str = "email") -> str:
    raw = (raw or "").strip().lower()
    if not raw:
        return ""
    try:
        validate_email(raw)
    except ValidationError:
        raise DealError(_("Enter a valid e-mail address."), field_name) from None
    return raw


def known_contact(phone: str = "", email: str = "") -> Contact | None:
    if phone:
        row = ContactPhone.objects.filter(number=phone).order_by("contact_id").first()
        if row is not None:
            return row.contact
    if email:
        row = ContactEmail.objects.filter(email__iexact=email).order_by("contact_id").first()
        if row is not None:
            return row.contact
    return None


def open_deal(contact: Contact) -> Deal | None:
    return (
        Deal.objects.filter(contact=contact, status=Outcome.OPEN)
        .order_by("-created_at", "-pk")
        .first()
    )


def _fallback_owner() -> User | None:
    return (
        User.objects.filter(is_active=True, role=Role.HEAD).order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )


def choose_owner(contact: Contact | None, address: str, at: dt.datetime) -> User:
    """The contact's owner when active, else the call routing rules (by phone number when
    there is one, then the weighted round-robin), else the head of sales."""
    from funnelwatch.telephony import routing

    if contact is not None and contact.owner is not None and contact.owner.is_active:
        return contact.owner
    owner = routing.assign(address or "-", at)
    owner = owner or _fallback_owner()
    if owner is None:
        raise DealError(_("Nobody can take the lead: add an active manager."), "owner")
    return owner


@dataclass
class Captured:
    contact: Contact
    deal: Deal | None
    created: bool  # a new lead was made


@transaction.atomic
def capture(
    *,
    origin_of: Origin,
    name: str = "",
    phone: str = "",
    email: str = "",
    address: str = "",
    title: str = "",
    at: dt.datetime | None = None,
    actor: User | None = None,
) -> Captured:
    """The contact and lead for someone who reached the company. ``phone`` and ``email``
    must be cleaned already (:func:`clean_phone`, :func:`clean_email`); ``address`` is
    the channel's own (a Telegram chat) when there is no phone."""
    at = at or timezone.now()
    contact = known_contact(phone, email)
    if contact is not None:
        with acting_as(actor, at=at):
            if phone and not contact.phones.filter(number=phone).exists():
                ContactPhone.objects.create(contact=contact, number=phone, raw=phone)
            if email and not contact.emails.filter(email__iexact=email).exists():
                ContactEmail.objects.create(contact=contact, email=email)
        deal = open_deal(contact)
        if deal is not None:
            return Captured(contact, deal, False)
    owner = choose_owner(contact, phone or address or email, at)
    label = name.strip()[:200] or phone or email or address or _("New lead")
    if contact is None:
        contact = crm.create_contact(
            actor=actor,
            name=label,
            owner=None,
            phone_numbers=[phone] if phone else [],
            emails=[email] if email else [],
            at=at,
        )
    with origin(origin_of):
        deal = crm.create_lead(
            actor=actor,
            title=(title or label)[:200],
            owner=owner,
            contact=contact,
            at=at,
        )
    return Captured(contact, deal, True)


@transaction.atomic
def set_referrer(deal: Deal, referrer: User | None, *, actor: User) -> LeadOrigin:
    """Name (or clear) the employee who passed the lead on."""
    if referrer is not None and not referrer.is_active:
        raise DealError(_("That account is disabled."), "referrer")
    row = LeadOrigin.objects.select_for_update().filter(deal=deal).first()
    with acting_as(actor):
        if row is None:
            row = LeadOrigin.objects.create(
                deal=deal, kind=SourceKind.MANUAL, created_at=deal.created_at
            )
        old = row.referrer_id
        row.referrer = referrer
        row.save()
    crm_event.send(
        sender=Deal,
        kind="deal_updated",
        deal=deal,
        at=deal.created_at,
        user_ids={u for u in (old, referrer and referrer.pk) if u},
    )
    return row


def conversation(deal: Deal):
    """The messenger messages of the deal's contact (on this deal or on none)."""
    if deal.contact_id is None:
        return ChatMessage.objects.none()
    return ChatMessage.objects.filter(contact_id=deal.contact_id).select_related("author")
