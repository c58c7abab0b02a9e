"""Letters and mailbox status for scripts; narrowed by the caller's visibility."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import ObjectId, page_size
from funnelwatch.mail import queries

router = Router(tags=["mail"])


class MessageOut(Schema):
    id: int
    mailbox: int | None
    message_id: str
    thread: str
    direction: str
    from_addr: str
    to: list[str]
    subject: str
    sent_at: dt.datetime
    contact: int | None
    deal: int | None
    owner: int | None
    deleted_on_server: bool
    archived: bool
    proposal: int | None

    @staticmethod
    def resolve_mailbox(obj) -> int | None:
        return obj.mailbox_id

    @staticmethod
    def resolve_to(obj) -> list[str]:
        return obj.to_list

    @staticmethod
    def resolve_contact(obj) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_deal(obj) -> int | None:
        return obj.deal_id

    @staticmethod
    def resolve_owner(obj) -> int | None:
        return obj.owner_id

    @staticmethod
    def resolve_archived(obj) -> bool:
        return obj.archived_at is not None

    @staticmethod
    def resolve_proposal(obj) -> int | None:
        return obj.proposal_id


class MailboxOut(Schema):
    id: int
    user: int
    login: str
    host: str
    is_shared_bcc: bool
    is_active: bool
    last_sync_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error: str

    @staticmethod
    def resolve_user(obj) -> int:
        return obj.user_id


Limit = page_size(500)


@router.get("/messages", response={200: list[MessageOut], **errors(401, 422)})
def messages(
    request,
    deal: ObjectId | None = None,
    contact: ObjectId | None = None,
    mailbox: ObjectId | None = None,
    limit: Limit = 100,
):
    """Newest letters first (``limit`` at most 500), by deal, contact or mailbox."""
    qs = queries.messages_for(request.user).defer("headers", "html_body", "text_body")
    if deal is not None:
        qs = qs.filter(deal_id=deal)
    if contact is not None:
        qs = qs.filter(contact_id=contact)
    if mailbox is not None:
        qs = qs.filter(mailbox_id=mailbox)
    return list(qs.order_by("-sent_at", "-id")[:limit])


@router.get("/mailboxes", response={200: list[MailboxOut], **errors(401)})
def mailboxes(request):
    """Connected mailboxes with their last sync and errors."""
    return list(queries.mailboxes_for(request.user).order_by("pk"))
