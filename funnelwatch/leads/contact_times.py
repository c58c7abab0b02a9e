"""When a new lead was first contacted: an outbound call to the contact's numbers (or on
the deal), a reply in a messenger, or a letter to them, whichever came first after the
lead was created."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Min, Q

from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.leads.models import ChatMessage, LeadOrigin, SourceKind

# Leads that can be reached without a phone: the "lead not called" alert checks them too.
REACHABLE_OTHERWISE = (
    SourceKind.WEB_FORM,
    SourceKind.TELEGRAM,
    SourceKind.WHATSAPP,
    SourceKind.EMAIL,
)


def _earliest(times: list[dt.datetime | None]) -> dt.datetime | None:
    return min((t for t in times if t is not None), default=None)


def _replies(deals: list[Deal]) -> dict[int, list[dt.datetime]]:
    """Times of messages and letters sent to each deal's contact (or on the deal)."""
    from funnelwatch.mail.models import Direction as MailDirection
    from funnelwatch.mail.models import Message

    contacts = {d.contact_id for d in deals if d.contact_id}
    by_contact: dict[int, list[dt.datetime]] = defaultdict(list)
    for contact_id, at in ChatMessage.objects.filter(
        contact_id__in=contacts, direction=ChatMessage.Direction.OUT
    ).values_list("contact_id", "at"):
        by_contact[contact_id].append(at)
    by_deal: dict[int, list[dt.datetime]] = defaultdict(list)
    for deal_id, contact_id, at in Message.objects.filter(
        Q(contact_id__in=contacts) | Q(deal_id__in=[d.pk for d in deals]),
        direction=MailDirection.OUT,
        archived_at__isnull=True,
    ).values_list("deal_id", "contact_id", "sent_at"):
        if contact_id:
            by_contact[contact_id].append(at)
        if deal_id:
            by_deal[deal_id].append(at)
    return {d.pk: by_contact.get(d.contact_id, []) + by_deal.get(d.pk, []) for d in deals}


def first_contacts(deals: list[Deal]) -> dict[int, dt.datetime | None]:
    """For the alert: {deal: first reply or letter after creation, or None} for leads
    from forms, messengers and e-mail."""
    ids = set(
        LeadOrigin.objects.filter(
            deal_id__in=[d.pk for d in deals], kind__in=REACHABLE_OTHERWISE
        ).values_list("deal_id", flat=True)
    )
    chosen = [d for d in deals if d.pk in ids]
    replies = _replies(chosen)
    return {
        d.pk: _earliest([t for t in replies.get(d.pk, []) if t >= d.created_at]) for d in chosen
    }


def first_contact_at(deals: list[Deal]) -> dict[int, dt.datetime | None]:
    """{deal: the first outbound call, message or letter after its creation, or None}."""
    from funnelwatch.telephony.models import Call

    replies = _replies(deals)
    numbers: dict[int, set[str]] = defaultdict(set)
    for contact_id, number in ContactPhone.objects.filter(
        contact_id__in={d.contact_id for d in deals if d.contact_id}
    ).values_list("contact_id", "number"):
        numbers[contact_id].add(number)
    every = set().union(*numbers.values()) if numbers else set()
    earliest = min((d.created_at for d in deals), default=None)
    calls_by_number: dict[str, list[dt.datetime]] = defaultdict(list)
    calls_by_deal: dict[int, dt.datetime] = {}
    if earliest is not None:
        for to_number, client_number, at in Call.objects.filter(
            Q(to_number__in=every) | Q(client_number__in=every),
            direction="out",
            started_at__gte=earliest,
            archived_at__isnull=True,
        ).values_list("to_number", "client_number", "started_at"):
            for number in {to_number, client_number} & every:
                calls_by_number[number].append(at)
        calls_by_deal = dict(
            Call.objects.filter(
                deal_id__in=[d.pk for d in deals], direction="out", archived_at__isnull=True
            )
            .values("deal_id")
            .annotate(first=Min("started_at"))
            .values_list("deal_id", "first")
        )
    out = {}
    for d in deals:
        times = list(replies.get(d.pk, []))
        for number in numbers.get(d.contact_id, ()):
            times += calls_by_number.get(number, [])
        if d.pk in calls_by_deal:
            times.append(calls_by_deal[d.pk])
        out[d.pk] = _earliest([t for t in times if t >= d.created_at])
    return out
