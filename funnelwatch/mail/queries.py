"""Read-side queries of the mail pages, always narrowed by visibility."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import limit_by, limit_to_owner
from funnelwatch.mail.models import Mailbox, Message


def mailboxes_for(user: User) -> QuerySet[Mailbox]:
    return (
        limit_to_owner(user, Mailbox.objects.all(), "user")
        .select_related("user")
        .annotate(letters=Count("messages"))
    )


def messages_for(user: User) -> QuerySet[Message]:
    """Letters whose manager, or whose deal's owner, the user may see."""
    return limit_by(user, Message.objects.all(), "owner", "deal__owner").select_related(
        "owner", "contact", "deal"
    )


def timeline(
    user: User, *, deal_id: int | None = None, contact_id: int | None = None, limit: int = 100
) -> list[Message]:
    qs = messages_for(user).filter(archived_at__isnull=True)
    if deal_id is not None:
        qs = qs.filter(deal_id=deal_id)
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    return list(qs.defer("headers", "html_body").order_by("-sent_at", "-id")[:limit])
