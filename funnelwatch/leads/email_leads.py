"""E-mail to lead: a letter to one of the lead addresses (FUNNELWATCH_LEADS_EMAIL) from a
sender no contact has becomes a contact and a lead, and the letter is filed on them."""

from __future__ import annotations

import logging

from django.conf import settings

from funnelwatch.crm.services import DealError
from funnelwatch.leads.models import SourceKind
from funnelwatch.leads.services import Origin, capture, clean_email
from funnelwatch.lib.addresses import as_list

logger = logging.getLogger("funnelwatch.leads")


def lead_addresses() -> set[str]:
    """Mail addresses whose letters from unknown senders become leads."""
    return {a.lower() for a in as_list(settings.FUNNELWATCH_LEADS_EMAIL)}


def from_letters(message_ids: list[int]) -> int:
    """Leads made of these new incoming letters from unknown senders; how many."""
    addresses = lead_addresses()
    if not addresses or not message_ids:
        return 0
    from funnelwatch.mail.ingest import notify
    from funnelwatch.mail.models import Message

    made = 0
    for letter in Message.objects.filter(pk__in=message_ids, contact__isnull=True).order_by("pk"):
        to = {a.strip().lower() for a in f"{letter.to_addrs},{letter.cc_addrs}".split(",")}
        if not to & addresses:
            continue
        try:
            email = clean_email(letter.from_addr)
        except DealError:
            logger.warning("letter %s: sender %r is not an address", letter.pk, letter.from_addr)
            continue
        if not email:
            continue
        got = capture(
            origin_of=Origin(SourceKind.EMAIL),
            name=letter.from_name or email,
            email=email,
            title=letter.subject or "",
            at=letter.sent_at,
        )
        deal = got.deal
        Message.objects.filter(pk=letter.pk).update(
            contact=got.contact,
            deal=deal,
            owner_id=deal.owner_id if deal else letter.owner_id,
        )
        notify([letter.pk])
        made += got.created
    return made
