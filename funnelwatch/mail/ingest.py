"""Storing parsed letters: dedupe, threading, direction, contact/deal matching, proposals.

Works a batch at a time with a fixed number of queries per batch, so a first sync of a
big mailbox stays fast; the same code serves IMAP sync, the BCC mailbox and the demo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.functions import Lower

from funnelwatch import metrics
from funnelwatch.accounts.models import User, UserEmail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import Actor, attributed_to, record_bulk
from funnelwatch.crm.models import Block, Channel, ContactEmail, Deal, Outcome
from funnelwatch.mail.models import Attachment, Direction, Mailbox, Message, MessageCopy
from funnelwatch.mail.parsing import Parsed, subject_key, thread_root

logger = logging.getLogger("funnelwatch.mail")

SUBJECT_FALLBACK_DAYS = 60

# Who the audit trail names for letters and proposals the mail sync finds.
SYNC = Actor(None, AuditEvent.Source.INTEGRATION, "mail sync")


@dataclass
class Incoming:
    """One letter found on the server (or sent from the CRM) to be stored."""

    parsed: Parsed
    folder: str = ""
    uidvalidity: int | None = None
    uid: int | None = None
    flags: str = ""


def manager_addresses() -> dict[str, int]:
    """Address (lowercase) -> user id for every address a user of the product writes from."""
    out = {e.lower(): uid for uid, e in User.objects.exclude(email="").values_list("pk", "email")}
    for uid, addr in UserEmail.objects.values_list("user_id", "email"):
        out[addr.lower()] = uid
    return out


class Matcher:
    """Per-batch lookups: contacts by address and their open deals."""

    def __init__(self, addresses: Iterable[str]) -> None:
        addrs = {a.lower() for a in addresses if a}
        self.contact_by_addr: dict[str, int] = {}
        rows = (
            ContactEmail.objects.annotate(addr=Lower("email"))
            .filter(addr__in=addrs)
            .order_by("contact_id")
            .values_list("addr", "contact_id")
        )
        for addr, cid in rows:
            self.contact_by_addr.setdefault(addr, cid)
        self.deals: dict[int, list[tuple[int, int]]] = {}
        self.contact_owner: dict[int, int | None] = {}
        cids = set(self.contact_by_addr.values())
        if cids:
            for did, cid, owner in (
                Deal.objects.filter(contact_id__in=cids, status=Outcome.OPEN)
                .order_by("-created_at")
                .values_list("pk", "contact_id", "owner_id")
            ):
                self.deals.setdefault(cid, []).append((did, owner))
            from funnelwatch.crm.models import Contact

            self.contact_owner = dict(
                Contact.objects.filter(pk__in=cids).values_list("pk", "owner_id")
            )

    def contact(self, addrs: Iterable[str]) -> int | None:
        for addr in addrs:
            cid = self.contact_by_addr.get(addr)
            if cid:
                return cid
        return None

    def deal(self, contact_id: int | None, owner_id: int | None) -> tuple[int | None, int | None]:
        """The contact's open deal, preferring one the letter's manager owns."""
        deals = self.deals.get(contact_id or 0, [])
        for did, owner in deals:
            if owner_id and owner == owner_id:
                return did, owner
        return deals[0] if deals else (None, None)


@dataclass
class Classified:
    direction: str
    owner_id: int | None
    contact_id: int | None
    deal_id: int | None


def classify(
    p: Parsed, mailbox: Mailbox | None, addresses: dict[str, int], matcher: Matcher
) -> Classified:
    personal = mailbox is not None and not mailbox.is_shared_bcc
    own = {mailbox.login.lower()} if personal and "@" in mailbox.login else set()
    outgoing = p.from_addr in addresses or p.from_addr in own
    if outgoing:
        owner = addresses.get(p.from_addr) or (mailbox.user_id if personal else None)
        contact = matcher.contact(p.to + p.cc)
    else:
        owner = next((addresses[a] for a in p.to + p.cc if a in addresses), None)
        if owner is None and personal:
            owner = mailbox.user_id
        contact = matcher.contact([p.from_addr])
    deal, deal_owner = matcher.deal(contact, owner)
    if owner is None:
        owner = deal_owner or matcher.contact_owner.get(contact or 0)
    return Classified(Direction.OUT if outgoing else Direction.IN, owner, contact, deal)


def _threads(batch: list[Parsed], ours: dict[str, int] | None = None) -> dict[str, str]:
    """message id -> thread for the batch: by References/In-Reply-To, else the subject
    with a client address in common (our own addresses are in every letter: they do not
    count) within SUBJECT_FALLBACK_DAYS."""
    ours = ours or {}
    refs = {r for p in batch for r in [*p.references, p.in_reply_to, p.message_id] if r}
    known = dict(Message.objects.filter(message_id__in=refs).values_list("message_id", "thread"))
    keys = {subject_key(p.subject) for p in batch if not p.references and not p.in_reply_to}
    keys.discard("")
    by_subject: dict[str, list[tuple[dt.datetime, set[str], str]]] = {}
    if keys:
        earliest = min(p.sent_at for p in batch) - dt.timedelta(days=SUBJECT_FALLBACK_DAYS)
        for key, thread, frm, to, cc, at in Message.objects.filter(
            subject_key__in=keys, sent_at__gte=earliest
        ).values_list("subject_key", "thread", "from_addr", "to_addrs", "cc_addrs", "sent_at"):
            people = {frm, *to.split(","), *cc.split(",")} - {""}
            by_subject.setdefault(key, []).append((at, people, thread))
    out: dict[str, str] = {}
    for p in sorted(batch, key=lambda x: x.sent_at):
        thread = None
        for ref in [*p.references, p.in_reply_to]:
            if ref and (ref in out or ref in known):
                thread = out.get(ref) or known[ref]
                break
        if thread is None and p.message_id in known:
            thread = known[p.message_id]
        if thread is None and not p.references and not p.in_reply_to:
            key = subject_key(p.subject)
            for at, people, candidate in sorted(by_subject.get(key, []), key=lambda r: r[0]):
                window = dt.timedelta(days=SUBJECT_FALLBACK_DAYS)
                shared = (people & p.participants) - ours.keys()
                if at <= p.sent_at and p.sent_at - at <= window and shared:
                    thread = candidate
                    break
        thread = thread or thread_root(p)
        out[p.message_id] = thread
        key = subject_key(p.subject)
        if key:
            by_subject.setdefault(key, []).append((p.sent_at, p.participants, thread))
    return out


def _merge_threads(joined: dict[str, str]) -> None:
    """Replies stored before the letter they answer took its id as their thread; now that
    the letter has joined an older thread, move them along."""
    if not joined:
        return
    found = set(Message.objects.filter(thread__in=joined.keys()).values_list("thread", flat=True))
    for old in sorted(found):
        target, seen = joined[old], {old}
        while target in joined and target not in seen:  # A joined B, which joined C
            seen.add(target)
            target = joined[target]
        Message.objects.filter(thread=old).update(thread=target)


def _store_attachments(message_ids: dict[str, int], batch: list[Parsed]) -> None:
    rows = []
    for p in batch:
        mid = message_ids.get(p.message_id)
        if mid is None:
            continue
        for att in p.attachments:
            if att.payload is None:
                rows.append(
                    Attachment(
                        message_id=mid,
                        filename=att.filename,
                        content_type=att.content_type[:100],
                        size=att.size,
                        skipped=True,
                    )
                )
                continue
            digest = hashlib.sha256(att.payload).hexdigest()
            row = Attachment(
                message_id=mid,
                filename=att.filename,
                content_type=att.content_type[:100],
                size=att.size,
                sha256=digest,
            )
            path = f"mail/{digest[:2]}/{digest}"
            if not default_storage.exists(path):
                path = default_storage.save(path, ContentFile(att.payload))
            row.file.name = path
            rows.append(row)
    Attachment.objects.bulk_create(rows, batch_size=500)


# Functions called with the ids of new incoming letters from unknown senders, in the
# transaction that stored them (the leads app makes leads of those to its address).
AFTER_STORE: list = []


def store(
    items: list[Incoming],
    mailbox: Mailbox | None,
    *,
    addresses: dict[str, int] | None = None,
    force: dict | None = None,
    by: Actor | None = None,
) -> tuple[int, int, list[int]]:
    """Store a batch; returns (new letters, new copies of known letters, ids of new letters).

    ``force`` sets fields on the new letters (a letter sent from a deal knows its deal).
    ``by`` is who the audit trail names for the new letters and the proposals made from
    them: the manager who sent a letter from a deal; the mail sync by default."""
    by = by or SYNC
    if not items:
        return 0, 0, []
    addresses = addresses if addresses is not None else manager_addresses()
    parsed = [i.parsed for i in items]
    ids = {p.message_id for p in parsed}
    existing = dict(Message.objects.filter(message_id__in=ids).values_list("message_id", "pk"))
    fresh: dict[str, Parsed] = {}
    for p in parsed:
        if p.message_id not in existing:
            fresh.setdefault(p.message_id, p)
    threads = _threads(list(fresh.values()), addresses)
    matcher = Matcher(a for p in fresh.values() for a in p.participants)
    rows = []
    for p in fresh.values():
        c = classify(p, mailbox, addresses, matcher)
        fields = {
            "mailbox": mailbox,
            "message_id": p.message_id,
            "message_id_synthesised": p.synthesised_id,
            "in_reply_to": p.in_reply_to,
            "references": " ".join(p.references)[:20000],
            "thread": threads[p.message_id][:255],
            "subject": p.subject[:500],
            "subject_key": subject_key(p.subject),
            "direction": c.direction,
            "from_addr": p.from_addr,
            "from_name": p.from_name,
            "to_addrs": ",".join(p.to),
            "cc_addrs": ",".join(p.cc),
            "sent_at": p.sent_at,
            "headers": p.headers,
            "text_body": p.text,
            "html_body": p.html,
            "size": p.size,
            "note": "; ".join(p.notes)[:500],
            "owner_id": c.owner_id,
            "contact_id": c.contact_id,
            "deal_id": c.deal_id,
            "has_attachments": bool(p.attachments),
        }
        fields.update(force or {})
        rows.append(Message(**fields))
    with transaction.atomic():
        created = Message.objects.bulk_create(rows, batch_size=500)
        if created and created[0].pk is None:  # backends without RETURNING
            pks = dict(
                Message.objects.filter(message_id__in=[m.message_id for m in created]).values_list(
                    "message_id", "pk"
                )
            )
            for m in created:
                m.pk = pks[m.message_id]
        with attributed_to(by):
            record_bulk(created)
        all_ids = {**existing, **{m.message_id: m.pk for m in created}}
        copies = [
            MessageCopy(
                message_id=all_ids[i.parsed.message_id],
                mailbox=mailbox,
                folder=i.folder,
                uidvalidity=i.uidvalidity,
                uid=i.uid,
                flags=i.flags,
                deleted_on_server="\\Deleted" in i.flags,
            )
            for i in items
            if i.uid is not None and mailbox is not None
        ]
        MessageCopy.objects.bulk_create(copies, batch_size=1000, ignore_conflicts=True)
        if existing and copies:
            # A letter known before (sent from the CRM, or deleted in another folder) is
            # on the server again.
            Message.objects.filter(pk__in=existing.values(), deleted_on_server=True).update(
                deleted_on_server=False
            )
        _merge_threads({m.message_id: m.thread for m in created if m.thread != m.message_id})
        _store_attachments({m.message_id: m.pk for m in created}, list(fresh.values()))
        notify([m.pk for m in created])
        incoming = [m.pk for m in created if m.direction == Direction.IN and m.contact_id is None]
        for hook in AFTER_STORE:
            hook(incoming)
    make_proposals([m.pk for m in created if m.direction == Direction.OUT and m.deal_id], by=by)
    return len(created), len(items) - len(created), [m.pk for m in created]


def notify(message_ids: list[int]) -> None:
    """Tell the metrics (``metrics.changed``, source "letter") which managers' numbers
    these letters changed on which days, so the rollups are refreshed once the change
    commits, whichever path stored or changed them (a mailbox, the shared BCC mailbox,
    a letter sent from the CRM)."""
    from funnelwatch.mail.metrics import touched_by_letters

    per: dict[int, set[object]] = {}
    for manager, at in touched_by_letters(message_ids):
        if manager:
            per.setdefault(manager, set()).add(at)
    for manager, moments in per.items():
        metrics.changed("letter", [manager], moments)


def make_proposals(message_ids: list[int], *, by: Actor | None = None) -> int:
    """Turn outgoing letters into proposals: with an attachment on a deal in a proposal
    stage, or marked by someone. Once per letter. Each proposal counts for the letter's
    manager; the audit trail names ``by`` as who made it (the mail sync by default)."""
    from funnelwatch.crm import services

    if not message_ids:
        return 0
    made = 0
    letters = Message.objects.filter(
        pk__in=message_ids,
        direction=Direction.OUT,
        proposal__isnull=True,
        deal__isnull=False,
        owner__isnull=False,
        deal__status=Outcome.OPEN,
    ).select_related("deal__stage", "owner")
    for m in letters:
        in_proposal_stage = m.deal.stage.block == Block.PROPOSAL and m.has_attachments
        if not (m.is_proposal or in_proposal_stage) or m.sent_at < m.deal.created_at:
            continue
        with transaction.atomic():
            locked = Message.objects.select_for_update().filter(pk=m.pk, proposal__isnull=True)
            if not locked.exists():
                continue
            proposal = services.send_proposal(
                m.deal,
                actor=m.owner,
                amount=None,
                channel=Channel.EMAIL,
                comment=(m.subject or "")[:500],
                at=m.sent_at,
                by=by or SYNC,
            )
            Message.objects.filter(pk=m.pk).update(proposal=proposal)
            made += 1
    return made
