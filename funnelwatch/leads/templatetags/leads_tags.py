from __future__ import annotations

import datetime as dt

from django import template

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import may_change_crm
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, record_once
from funnelwatch.leads.models import LeadOrigin
from funnelwatch.leads.services import conversation

register = template.Library()


@register.inclusion_tag("leads/deal_panel.html", takes_context=True)
def lead_panel(context: template.Context, deal) -> dict:
    """The deal's origin, referrer and messenger conversation, with the answer form. Reading
    someone else's conversation is recorded in the audit trail (like their letters)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    origin = LeadOrigin.objects.filter(deal=deal).select_related("form", "bot", "referrer").first()
    chat = list(conversation(deal))
    if chat and user is not None and user.is_authenticated and user.pk != deal.owner_id:
        with acting_as(user):
            record_once(
                deal,
                AuditEvent.Action.VIEW,
                {"conversation": len(chat)},
                within=dt.timedelta(minutes=30),
            )
    may_write = user is not None and may_change_crm(user)
    submissions = origin.form.submissions.filter(deal=deal)[:5] if origin and origin.form_id else []
    return {
        "deal": deal,
        "origin": origin,
        "chat": chat,
        "submissions": submissions,
        "may_write": may_write,
        "people": User.objects.filter(is_active=True) if may_write and origin else [],
        "csrf_token": context.get("csrf_token"),
    }
