"""Demo e-mail: a mailbox per manager, the shared BCC mailbox, and letter threads on deals.

Letters are written straight into the tables (no IMAP server is needed for the demo).
Deals past the intake block get their proposal letter (a PDF attached) linked to the deal's
proposal, or a proposal made for it. One manager leaves clients' letters unanswered.
"""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from funnelwatch.accounts.models import Role, UserEmail
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Block, Channel, ContactEmail, Deal, Outcome, Proposal
from funnelwatch.mail.models import Attachment, Direction, Mailbox, Message, Security
from funnelwatch.mail.parsing import subject_key

DOMAIN = "firm.demo"
PDF = b"%PDF-1.4\n% demo commercial proposal\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

CLIENT_LINES = [
    ("Request for prices", "Good afternoon, please send your prices for the spring order."),
    ("Question about delivery", "Hello, can you deliver to our warehouse by the 15th?"),
    ("Meeting next week", "Could we meet next week to discuss the terms?"),
    ("Invoice details", "Please send the invoice with our new bank details."),
]
MANAGER_LINES = [
    "Thank you for your letter. Here are the details you asked for.",
    "Good afternoon! Yes, that works for us. I will confirm tomorrow.",
    "Please find the answers below; call me if anything is unclear.",
]


def _address(user) -> str:
    first = UserEmail.objects.filter(user=user).values_list("email", flat=True).first()
    if first:
        return first
    addr = user.email or f"{user.username}@{DOMAIN}"
    UserEmail.objects.get_or_create(email=addr, defaults={"user": user})
    return addr


def generate(ctx) -> None:
    rng = ctx.rng_for("mail")
    managers = list(ctx.managers)
    if not managers:
        return
    with acting_as(None, source="system", name="demo generator"):
        addresses = {m.pk: _address(m) for m in managers}
        boxes = {}
        for m in managers:
            box, _ = Mailbox.objects.get_or_create(
                host=f"imap.{DOMAIN}",
                port=993,
                login=addresses[m.pk],
                defaults={
                    "user": m,
                    "security": Security.SSL,
                    "folders": "INBOX,Sent",
                    "is_active": False,
                    "password_encrypted": "",
                },
            )
            if not box.password_encrypted:
                box.set_password("demo")
                box.save(update_fields=["password_encrypted"])
            boxes[m.pk] = box
        heads = [u for u in ctx.users.values() if getattr(u, "role", "") == Role.HEAD]
        Mailbox.objects.get_or_create(
            is_shared_bcc=True,
            defaults={
                "user": heads[0] if heads else managers[0],
                "host": f"imap.{DOMAIN}",
                "port": 993,
                "login": f"crm-bcc@{DOMAIN}",
                "folders": "INBOX",
                "is_active": False,
                "password_encrypted": "",
            },
        )

    deals = list(
        Deal.objects.filter(owner__in=managers, contact__isnull=False)
        .select_related("stage", "contact")
        .order_by("pk")
    )
    if not deals:
        return
    emails = dict(
        ContactEmail.objects.filter(contact__in=[d.contact_id for d in deals])
        .order_by("-pk")
        .values_list("contact_id", "email")
    )
    missing = [d.contact for d in deals if d.contact_id not in emails]
    new_emails = {c.pk: f"client{c.pk}@example.com" for c in {c.pk: c for c in missing}.values()}
    ContactEmail.objects.bulk_create(
        [ContactEmail(contact_id=cid, email=e) for cid, e in new_emails.items()],
        ignore_conflicts=True,
    )
    emails.update(new_emails)

    slow = managers[-1]  # the manager who leaves letters unanswered
    proposals = {}
    for pid, deal_id in (
        Proposal.objects.filter(deal__in=deals, mail_message__isnull=True)
        .order_by("sent_at")
        .values_list("pk", "deal_id")
    ):
        proposals.setdefault(deal_id, pid)

    rows: list[Message] = []
    want_proposal: list[tuple[int, Deal]] = []  # (index in rows, deal)
    unanswered = 0
    for deal in deals:
        if rng.random() > 0.65:
            continue
        client = emails[deal.contact_id]
        me = addresses[deal.owner_id]
        root = f"demo-{deal.pk}-0@{DOMAIN}"
        subject, first_text = rng.choice(CLIENT_LINES)
        at = deal.created_at + dt.timedelta(minutes=rng.randint(20, 600))
        refs: list[str] = []
        n = rng.randint(2, 6)
        past_intake = deal.stage.block != Block.INTAKE or deal.status == Outcome.WON
        proposal_at = rng.randint(1, n - 1) if past_intake and n > 1 else None
        for i in range(n):
            if at > ctx.now:
                break
            incoming = i % 2 == 0
            if not incoming and deal.owner_id == slow.pk and rng.random() < 0.6:
                unanswered += 1
                break  # the client waits in vain
            msgid = root if i == 0 else f"demo-{deal.pk}-{i}@{DOMAIN}"
            is_kp = i == proposal_at and not incoming
            subj = subject if i == 0 else ("Commercial proposal" if is_kp else f"Re: {subject}")
            text = (
                first_text
                if incoming and i == 0
                else ("Thank you, we will look at it." if incoming else rng.choice(MANAGER_LINES))
            )
            rows.append(
                Message(
                    mailbox=boxes[deal.owner_id],
                    message_id=msgid,
                    in_reply_to=refs[-1] if refs else "",
                    references=" ".join(refs),
                    thread=root,
                    subject=subj,
                    subject_key=subject_key(subj),
                    direction=Direction.IN if incoming else Direction.OUT,
                    from_addr=client if incoming else me,
                    from_name=deal.contact.name if incoming else str(deal.owner),
                    to_addrs=me if incoming else client,
                    sent_at=at,
                    text_body=text,
                    size=len(text) + 900,
                    owner_id=deal.owner_id,
                    contact_id=deal.contact_id,
                    deal_id=deal.pk,
                    has_attachments=is_kp,
                    is_proposal=is_kp,
                )
            )
            if is_kp:
                want_proposal.append((len(rows) - 1, deal))
            refs.append(msgid)
            # Replies: most within hours, some the next day or later.
            at += dt.timedelta(
                minutes=int(rng.choice([rng.expovariate(1 / 90), rng.uniform(600, 3000)])) + 5
            )
    created = Message.objects.bulk_create(rows, batch_size=1000)

    pdf_path = "mail/demo/commercial-proposal.pdf"
    if not default_storage.exists(pdf_path):
        pdf_path = default_storage.save(pdf_path, ContentFile(PDF))
    atts, made, linked = [], 0, []
    for index, deal in want_proposal:
        message = created[index]
        atts.append(
            Attachment(
                message=message,
                filename="commercial-proposal.pdf",
                content_type="application/pdf",
                size=len(PDF),
                file=pdf_path,
            )
        )
        pid = proposals.pop(deal.pk, None)
        if pid is None and deal.status == Outcome.OPEN and made < 40:
            pid = crm.send_proposal(
                deal,
                actor=deal.owner,
                amount=None,
                channel=Channel.EMAIL,
                comment=message.subject,
                at=message.sent_at,
            ).pk
            made += 1
        if pid is not None:
            message.proposal_id = pid
            linked.append(message)
    Attachment.objects.bulk_create(atts, batch_size=1000)
    Message.objects.bulk_update(linked, ["proposal"], batch_size=500)

    ctx.planted["mail_unanswered_manager"] = slow.username
    ctx.notes.append(
        f"E-mail: {len(created)} letters in threads on {len({m.deal_id for m in created})} "
        f"deals, {len(linked)} proposals sent by e-mail ({made} recorded from letters); "
        f"{slow.username} left {unanswered} client letters unanswered. Demo mailboxes are not "
        f"connected to a server (mail → mailboxes)."
    )
