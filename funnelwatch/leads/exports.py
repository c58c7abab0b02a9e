"""Leads as plain data (``funnelwatch leads``)."""

from __future__ import annotations

import datetime as dt

from funnelwatch.crm.models import Deal
from funnelwatch.leads.contact_times import first_contact_at

FIELDS = (
    "id",
    "source",
    "channel",
    "contact",
    "phone",
    "email",
    "owner",
    "referrer",
    "created_at",
    "first_contact_at",
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def leads_as_json(since: dt.datetime, until: dt.datetime) -> list[dict]:
    deals = list(
        Deal.objects.filter(created_at__gte=since, created_at__lt=until, origin__isnull=False)
        .select_related(
            "owner", "contact", "origin", "origin__form", "origin__bot", "origin__referrer"
        )
        .prefetch_related("contact__phones", "contact__emails")
        .order_by("created_at", "pk")
    )
    first = first_contact_at(deals)
    out = []
    for d in deals:
        phones = [p.number for p in d.contact.phones.all()] if d.contact else []
        emails = [e.email for e in d.contact.emails.all()] if d.contact else []
        origin = d.origin
        out.append(
            {
                "id": d.pk,
                "source": origin.kind,
                "channel": origin.channel,
                "contact": d.contact.name if d.contact else None,
                "phone": phones[0] if phones else None,
                "email": emails[0] if emails else None,
                "owner": d.owner.username,
                "referrer": origin.referrer.username if origin.referrer else None,
                "created_at": _iso(d.created_at),
                "first_contact_at": _iso(first[d.pk]),
            }
        )
    return out
