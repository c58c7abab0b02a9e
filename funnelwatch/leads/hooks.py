"""Where the leads app hooks into the others: every new lead gets its origin, letters to
the lead address become leads, and a reply in a messenger or by e-mail counts as the
first contact for the "lead not called" alert."""

from __future__ import annotations

from funnelwatch.crm.signals import crm_event


def on_crm_event(sender: object, kind: str, deal: object, **kwargs: object) -> None:
    if kind == "lead_created" and deal is not None:
        from funnelwatch.leads.services import record_origin

        record_origin(deal)


def connect() -> None:
    from funnelwatch.alerts import rules
    from funnelwatch.leads import contact_times, email_leads
    from funnelwatch.mail import ingest

    crm_event.connect(on_crm_event, dispatch_uid="leads_origin")
    if email_leads.from_letters not in ingest.AFTER_STORE:
        ingest.AFTER_STORE.append(email_leads.from_letters)
    if contact_times.first_contacts not in rules.FIRST_CONTACT_SOURCES:
        rules.FIRST_CONTACT_SOURCES.append(contact_times.first_contacts)
