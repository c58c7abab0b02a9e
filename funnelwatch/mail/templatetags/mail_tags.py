"""``{% mail_timeline deal=deal %}`` / ``{% mail_timeline contact=contact %}``: letters on
the deal or contact page, with the form to write from a deal."""

from __future__ import annotations

from django import template

from funnelwatch.accounts.visibility import may_change_crm
from funnelwatch.mail import queries
from funnelwatch.mail.forms import SendForm

register = template.Library()


@register.inclusion_tag("mail/timeline.html", takes_context=True)
def mail_timeline(context, deal=None, contact=None) -> dict:
    request = context["request"]
    letters = queries.timeline(
        request.user,
        deal_id=deal.pk if deal is not None else None,
        contact_id=contact.pk if contact is not None and deal is None else None,
    )
    form = None
    if deal is not None and may_change_crm(request.user):
        to = ""
        if deal.contact_id:
            to = ", ".join(deal.contact.emails.values_list("email", flat=True)[:1])
        form = SendForm(initial={"to": to, "subject": deal.title})
    return {
        "letters": letters,
        "deal": deal,
        "contact": contact,
        "form": form,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
