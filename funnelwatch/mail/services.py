"""What changes mail state: connecting a mailbox, sending from a deal, archiving, marking
a letter as a proposal, and recording who read whose mail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User, UserEmail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, record, user_actor
from funnelwatch.crm.models import Deal
from funnelwatch.mail.ingest import Incoming, make_proposals, notify, store
from funnelwatch.mail.models import Direction, Mailbox, Message, Security
from funnelwatch.mail.parsing import parse


class MailError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@transaction.atomic
def add_mailbox(
    *,
    actor: User | None,
    user: User,
    host: str,
    port: int,
    login: str,
    password: str,
    security: str = Security.SSL,
    folders: str = "INBOX,Sent",
    is_shared_bcc: bool = False,
) -> Mailbox:
    if security not in Security.values:
        raise MailError(_("Security must be ssl, starttls or none."), "security")
    if not host.strip():
        raise MailError(_("Enter the IMAP host."), "host")
    if not (0 < int(port) < 65536):
        raise MailError(_("The port must be between 1 and 65535."), "port")
    if not password:
        raise MailError(_("The password is empty."), "password")
    names = [f.strip() for f in folders.split(",") if f.strip()]
    if not names:
        raise MailError(_("Name at least one folder."), "folders")
    if is_shared_bcc and Mailbox.objects.filter(is_shared_bcc=True).exists():
        raise MailError(_("There is already a shared BCC mailbox."), "is_shared_bcc")
    if Mailbox.objects.filter(host=host.strip(), port=port, login=login.strip()).exists():
        raise MailError(_("This mailbox is already connected."), "login")
    box = Mailbox(
        user=user,
        host=host.strip(),
        port=int(port),
        login=login.strip(),
        security=security,
        folders=",".join(names),
        is_shared_bcc=is_shared_bcc,
    )
    box.set_password(password)
    with acting_as(actor):
        box.save()
    return box


def sender_address(user: User) -> str:
    addr = UserEmail.objects.filter(user=user).order_by("pk").values_list("email", flat=True)
    return addr.first() or user.email or settings.DEFAULT_FROM_EMAIL


@dataclass
class OutgoingAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def send_letter(
    deal: Deal,
    *,
    actor: User,
    to: list[str],
    subject: str,
    body: str,
    attachments: list[OutgoingAttachment] | None = None,
    as_proposal: bool = False,
    cc: list[str] | None = None,
) -> Message:
    """Send through SMTP (Django's e-mail backend) and keep the letter on the deal."""
    to = [a.strip() for a in to if a and a.strip()]
    if not to:
        raise MailError(_("Name at least one recipient."), "to")
    if not subject.strip():
        raise MailError(_("Enter a subject."), "subject")
    if "\r" in subject or "\n" in subject:
        # A header cannot hold a line break (it would start another header).
        raise MailError(_("The subject must be one line."), "subject")
    domain = settings.FUNNELWATCH_MAIL_DOMAIN or "funnelwatch.local"
    msgid = f"<deal-{deal.pk}.{uuid.uuid4().hex}@{domain}>"
    headers = {"Message-ID": msgid}
    parent = (
        Message.objects.filter(deal=deal)
        .order_by("-sent_at", "-id")
        .values_list("message_id", "references")
        .first()
    )
    if parent:
        refs = (parent[1].split() + [parent[0]])[-10:]
        headers["In-Reply-To"] = f"<{parent[0]}>"
        headers["References"] = " ".join(f"<{r}>" for r in refs)
    letter = EmailMessage(
        subject=subject.strip(),
        body=body,
        from_email=sender_address(actor),
        to=to,
        cc=cc or [],
        headers=headers,
        connection=get_connection(fail_silently=False),
    )
    for att in attachments or []:
        letter.attach(att.filename, att.content, att.content_type)
    raw = letter.message().as_bytes()
    try:
        letter.send(fail_silently=False)
    except OSError as exc:
        raise MailError(
            _("The mail server refused the letter: %(error)s") % {"error": exc}
        ) from None
    parsed = parse(
        raw,
        max_attachment=settings.FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES,
        received_at=timezone.now(),
    )
    parsed.sent_at = timezone.now()
    with acting_as(actor):
        box = Mailbox.objects.filter(user=actor, is_shared_bcc=False).first()
        _new, _linked, ids = store(
            [Incoming(parsed)],
            box,
            force={
                "direction": Direction.OUT,
                "owner_id": actor.pk,
                "deal_id": deal.pk,
                "contact_id": deal.contact_id,
                "is_proposal": as_proposal,
                "sent_from_crm": True,
            },
            by=user_actor(actor),
        )
    return Message.objects.get(pk=ids[0])


@transaction.atomic
def mark_as_proposal(message: Message, *, actor: User) -> Message:
    if message.direction != Direction.OUT or message.deal_id is None:
        raise MailError(_("Only an outgoing letter on a deal can be a proposal."))
    with acting_as(actor):
        message.is_proposal = True
        message.save(update_fields=["is_proposal"])
    make_proposals([message.pk], by=user_actor(actor))
    message.refresh_from_db()
    return message


@transaction.atomic
def archive(message: Message, *, actor: User) -> Message:
    if message.archived_at is None:
        with acting_as(actor):
            message.archived_at = timezone.now()
            message.archived_by = actor
            message.save()
        notify([message.pk])  # an archived letter no longer counts as an attempt
    return message


def record_view(message: Message, viewer: User) -> None:
    """Reading another manager's letter leaves a trace in the audit trail."""
    if message.owner_id != viewer.pk:
        with acting_as(viewer):
            record(message, AuditEvent.Action.VIEW, {"owner": message.owner_id})
