"""Everything that changes a deal's state goes through these functions.

Views, the API, commands and the demo generator call them; nothing writes deal state
around them. Each runs in one transaction, records the change in the audit trail under
the acting user, keeps stage and owner history, and tells the metrics through
``crm_event``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import Actor, acting_as, attributed_to, creation_event
from funnelwatch.crm.models import (
    Channel,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    JunkReason,
    LeadSource,
    LostReason,
    Meeting,
    Note,
    Outcome,
    OwnerChange,
    Pipeline,
    Proposal,
    Stage,
    StageChange,
    Task,
)
from funnelwatch.crm.signals import crm_event
from funnelwatch.lib import phones


class DealError(Exception):
    """A change the business rules refuse; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _when(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise DealError(_("Times must carry a time zone."), "at")
    return at


def _money(value: object, field: str) -> Decimal:
    """An amount the money columns can hold: a finite number, not negative, within the
    field's digits (the model's own validators, so forms, the API and commands all meet
    the same rule before the database's check would refuse the row)."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DealError(_("Enter a number."), field) from None
    if not amount.is_finite():
        raise DealError(_("Enter a number."), field)
    if amount < 0:
        raise DealError(_("The amount cannot be negative."), field)
    try:
        Deal._meta.get_field(field).run_validators(amount)
    except ValidationError as exc:
        raise DealError(" ".join(exc.messages), field) from None
    return amount


def _text(model: type, field: str, value: str) -> str:
    """Text that fits its column. SQLite does not enforce a CharField's max_length, so a
    5,000-character title was stored there (and refused with an error by PostgreSQL)."""
    try:
        model._meta.get_field(field).run_validators(value)
    except ValidationError as exc:
        raise DealError(" ".join(exc.messages), field) from None
    return value


def _emit(kind: str, deal: Deal | None, at: dt.datetime, *user_ids: int | None) -> None:
    crm_event.send(
        sender=Deal,
        kind=kind,
        deal=deal,
        at=at,
        user_ids={u for u in user_ids if u},
    )


def _enter_stage(deal: Deal, stage: Stage, actor: User | None, at: dt.datetime) -> None:
    StageChange.objects.filter(deal=deal, left_at__isnull=True).update(left_at=at)
    StageChange.objects.create(
        deal=deal,
        from_stage_id=deal.stage_id if deal.pk and deal.stage_id != stage.pk else None,
        to_stage=stage,
        at=at,
        by=actor,
        owner_id=deal.owner_id,
    )


# --- contacts ---------------------------------------------------------------


@transaction.atomic
def create_contact(
    *,
    actor: User | None,
    name: str,
    owner: User | None = None,
    company: Company | None = None,
    phone_numbers: list[str] = (),  # type: ignore[assignment]
    emails: list[str] = (),  # type: ignore[assignment]
    position: str = "",
    at: dt.datetime | None = None,
) -> Contact:
    if not name.strip():
        raise DealError(_("A contact needs a name."), "name")
    at = _when(at)
    normalised = []
    for i, raw in enumerate(phone_numbers):
        try:
            normalised.append((phones.normalize(raw, settings.FUNNELWATCH_PHONE_REGION), raw))
        except phones.InvalidPhone as exc:
            raise DealError(
                _("Phone %(n)s: %(err)s") % {"n": i + 1, "err": exc}, "phones"
            ) from None
    with acting_as(actor, at=at):
        contact = Contact.objects.create(
            name=name.strip(),
            owner=owner,
            company=company,
            position=position,
            created_at=at,
        )
        for number, raw in dict(normalised).items():
            ContactPhone.objects.create(contact=contact, number=number, raw=raw)
        for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
            ContactEmail.objects.create(contact=contact, email=email)
    return contact


# --- deals ------------------------------------------------------------------


@transaction.atomic
def create_lead(
    *,
    actor: User | None,
    title: str,
    owner: User,
    contact: Contact | None = None,
    company: Company | None = None,
    source: LeadSource | None = None,
    amount: object = 0,
    cost: object = 0,
    pipeline: Pipeline | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """A new deal, in the pipeline's first stage (a lead)."""
    if not title.strip():
        raise DealError(_("A deal needs a title."), "title")
    title = _text(Deal, "title", title.strip())
    if not owner.is_active:
        raise DealError(_("The owner's account is disabled."), "owner")
    at = _when(at)
    pipeline = (
        pipeline or Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    )
    if pipeline is None:
        raise DealError(_("Create a pipeline first."), "pipeline")
    stage = pipeline.first_stage()
    if company is None and contact is not None:
        company = contact.company
    with acting_as(actor, at=at):
        deal = Deal.objects.create(
            title=title.strip(),
            owner=owner,
            contact=contact,
            company=company,
            source=source,
            amount=_money(amount or 0, "amount"),
            cost=_money(cost or 0, "cost"),
            currency=settings.FUNNELWATCH_CURRENCY,
            pipeline=pipeline,
            stage=stage,
            created_at=at,
            stage_entered_at=at,
        )
        StageChange.objects.create(deal=deal, to_stage=stage, at=at, by=actor, owner=owner)
        OwnerChange.objects.create(deal=deal, to_owner=owner, at=at, by=actor)
    _emit("lead_created", deal, at, owner.pk, actor and actor.pk)
    return deal


@dataclass(frozen=True)
class NewLead:
    """One new caller for :func:`create_leads`."""

    name: str
    phone: str
    owner: User
    title: str
    at: dt.datetime
    source: LeadSource | None = None


@transaction.atomic
def create_leads(items: list[NewLead]) -> list[tuple[Contact | None, Deal | None]]:
    """For each item, what ``create_contact(actor=None, name=, owner=, phone_numbers=[phone],
    at=)`` followed by ``create_lead(actor=None, title=, owner=, contact=, source=, at=)``
    store (the same rows, audit events and ``crm_event``), in a fixed number of queries:
    for imports that meet hundreds of new callers at once.

    Returns (contact, deal) per item; what those calls would refuse is left out as they
    leave it out: (None, None) when the contact is refused, (contact, None) when only the
    lead is."""
    region = settings.FUNNELWATCH_PHONE_REGION
    out: list[tuple[Contact | None, Deal | None]] = [(None, None)] * len(items)
    contacts: list[tuple[int, Contact, str, str]] = []
    for i, item in enumerate(items):
        if not item.name.strip() or (item.at is not None and timezone.is_naive(item.at)):
            continue
        try:
            number = phones.normalize(item.phone, region)
        except phones.InvalidPhone:
            continue
        contact = Contact(
            name=item.name.strip(),
            owner=item.owner,
            company=None,
            position="",
            created_at=_when(item.at),
        )
        contacts.append((i, contact, number, item.phone))
    Contact.objects.bulk_create([c for _i, c, _n, _r in contacts], batch_size=500)
    phone_rows = [ContactPhone(contact=c, number=n, raw=r) for _i, c, n, r in contacts]
    ContactPhone.objects.bulk_create(phone_rows, batch_size=500)
    events = []
    for (_i, contact, _n, _r), phone in zip(contacts, phone_rows, strict=True):
        actor = Actor(None, AuditEvent.Source.SYSTEM, "", contact.created_at)
        events += [creation_event(contact, actor), creation_event(phone, actor)]

    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    stage = pipeline.first_stage() if pipeline is not None else None
    deals: list[tuple[int, Deal]] = []
    for i, contact, _n, _r in contacts:
        item = items[i]
        out[i] = (contact, None)
        if pipeline is None or not item.title.strip() or not item.owner.is_active:
            continue
        at = contact.created_at
        deal = Deal(
            title=item.title.strip(),
            owner=item.owner,
            contact=contact,
            company=contact.company,
            source=item.source,
            amount=_money(0, "amount"),
            cost=_money(0, "cost"),
            currency=settings.FUNNELWATCH_CURRENCY,
            pipeline=pipeline,
            stage=stage,
            created_at=at,
            stage_entered_at=at,
        )
        deals.append((i, deal))
    Deal.objects.bulk_create([d for _i, d in deals], batch_size=500)
    StageChange.objects.bulk_create(
        [
            StageChange(deal=d, to_stage=stage, at=d.created_at, by=None, owner=d.owner)
            for _i, d in deals
        ],
        batch_size=500,
    )
    OwnerChange.objects.bulk_create(
        [OwnerChange(deal=d, to_owner=d.owner, at=d.created_at, by=None) for _i, d in deals],
        batch_size=500,
    )
    for i, deal in deals:
        events.append(
            creation_event(deal, Actor(None, AuditEvent.Source.SYSTEM, "", deal.created_at))
        )
        out[i] = (out[i][0], deal)
    AuditEvent.objects.bulk_create(events, batch_size=500)
    for _i, deal in deals:
        _emit("lead_created", deal, deal.created_at, deal.owner_id)
    return out


def _locked(deal: Deal) -> Deal:
    """The deal's row, locked until the transaction ends. Take "now" (``_when``) only
    after this: a change that waited for the lock happens after the one that held it, so
    its time must not be the earlier moment the request arrived."""
    return Deal.objects.select_for_update().get(pk=deal.pk)


@transaction.atomic
def move_stage(
    deal: Deal, stage: Stage, *, actor: User | None, at: dt.datetime | None = None
) -> Deal:
    """Move an open deal to another open stage of its pipeline."""
    deal = _locked(deal)
    at = _when(at)
    if not deal.is_open:
        raise DealError(_("Only an open deal can change stage; reopen it first."), "stage")
    if stage.pipeline_id != deal.pipeline_id:
        raise DealError(_("That stage belongs to another pipeline."), "stage")
    if not stage.is_open:
        raise DealError(_("Use win, lose or junk to close a deal."), "stage")
    if stage.pk == deal.stage_id:
        return deal
    if at < deal.stage_entered_at:
        raise DealError(_("A stage change cannot be earlier than the previous one."), "at")
    with acting_as(actor, at=at):
        _enter_stage(deal, stage, actor, at)
        deal.stage = stage
        deal.stage_entered_at = at
        deal.save()
    _emit("stage_moved", deal, at, deal.owner_id, actor and actor.pk)
    return deal


def _close(deal: Deal, outcome: str, actor: User | None, at: dt.datetime, **fields) -> Deal:
    if not deal.is_open:
        raise DealError(_("The deal is already closed."), "status")
    if at < deal.stage_entered_at:
        raise DealError(_("A deal cannot close before it entered its current stage."), "at")
    stage = deal.pipeline.stage_for(outcome)
    with acting_as(actor, at=at):
        _enter_stage(deal, stage, actor, at)
        deal.stage = stage
        deal.stage_entered_at = at
        deal.status = outcome
        deal.closed_at = at
        for name, value in fields.items():
            setattr(deal, name, value)
        deal.save()
    _emit(f"deal_{outcome}", deal, at, deal.owner_id, actor and actor.pk)
    return deal


@transaction.atomic
def win(
    deal: Deal,
    *,
    actor: User | None,
    amount: object = None,
    cost: object = None,
    at: dt.datetime | None = None,
) -> Deal:
    deal = _locked(deal)
    fields = {}
    if amount is not None:
        fields["amount"] = _money(amount, "amount")
    if cost is not None:
        fields["cost"] = _money(cost, "cost")
    return _close(deal, Outcome.WON, actor, _when(at), **fields)


@transaction.atomic
def lose(
    deal: Deal,
    *,
    reason: LostReason | None,
    actor: User | None,
    comment: str = "",
    at: dt.datetime | None = None,
) -> Deal:
    if reason is None:
        raise DealError(_("Say why the deal was lost."), "lost_reason")
    deal = _locked(deal)
    comment = _text(Deal, "close_comment", comment)
    return _close(deal, Outcome.LOST, actor, _when(at), lost_reason=reason, close_comment=comment)


@transaction.atomic
def mark_junk(
    deal: Deal,
    *,
    reason: JunkReason | None,
    actor: User | None,
    comment: str = "",
    at: dt.datetime | None = None,
) -> Deal:
    if reason is None:
        raise DealError(_("Say why the lead is junk."), "junk_reason")
    deal = _locked(deal)
    comment = _text(Deal, "close_comment", comment)
    return _close(deal, Outcome.JUNK, actor, _when(at), junk_reason=reason, close_comment=comment)


@transaction.atomic
def reopen(
    deal: Deal, *, actor: User | None, stage: Stage | None = None, at: dt.datetime | None = None
) -> Deal:
    """Return a lost (or junk) deal to the funnel, by default to the stage it was lost from."""
    deal = _locked(deal)
    at = _when(at)
    if deal.status not in (Outcome.LOST, Outcome.JUNK):
        raise DealError(_("Only a lost or junk deal can be reopened."), "status")
    if stage is None:
        last = deal.stage_changes.filter(to_stage=deal.stage).order_by("-at", "-id").first()
        stage = last.from_stage if last and last.from_stage else deal.pipeline.first_stage()
    if stage.pipeline_id != deal.pipeline_id or not stage.is_open:
        raise DealError(_("Choose an open stage of the deal's pipeline."), "stage")
    with acting_as(actor, at=at):
        _enter_stage(deal, stage, actor, at)
        deal.stage = stage
        deal.stage_entered_at = at
        deal.status = Outcome.OPEN
        deal.closed_at = None
        deal.lost_reason = None
        deal.junk_reason = None
        deal.close_comment = ""
        deal.save()
    _emit("deal_reopened", deal, at, deal.owner_id, actor and actor.pk)
    return deal


@transaction.atomic
def reassign(
    deal: Deal, new_owner: User, *, actor: User | None, at: dt.datetime | None = None
) -> Deal:
    deal = _locked(deal)
    at = _when(at)
    if not new_owner.is_active:
        raise DealError(_("The new owner's account is disabled."), "owner")
    if new_owner.pk == deal.owner_id:
        return deal
    old_owner_id = deal.owner_id
    with acting_as(actor, at=at):
        OwnerChange.objects.create(
            deal=deal, from_owner_id=old_owner_id, to_owner=new_owner, at=at, by=actor
        )
        deal.owner = new_owner
        deal.save()
        # Open tasks follow the deal to its new owner.
        for task in deal.tasks.filter(done_at__isnull=True, assignee_id=old_owner_id):
            task.assignee = new_owner
            task.save()
    _emit("deal_reassigned", deal, at, old_owner_id, new_owner.pk, actor and actor.pk)
    return deal


# --- activities on deals ----------------------------------------------------


@transaction.atomic
def send_proposal(
    deal: Deal,
    *,
    actor: User,
    amount: object = None,
    channel: str = Channel.EMAIL,
    comment: str = "",
    at: dt.datetime | None = None,
    by: Actor | None = None,
) -> Proposal:
    """A proposal ``actor`` sent (it counts for them). ``by`` is who made the record when
    that is someone else: a reviewer marking a manager's letter, the mail sync finding an
    offer in the Sent folder; the audit trail names them."""
    at = _when(at)
    if channel not in Channel.values:
        raise DealError(_("Unknown channel."), "channel")
    value = _money(amount, "amount") if amount not in (None, "") else None
    with attributed_to(replace(by, at=at)) if by else acting_as(actor, at=at):
        proposal = Proposal.objects.create(
            deal=deal, author=actor, amount=value, sent_at=at, channel=channel, comment=comment
        )
    _emit("proposal_sent", deal, at, actor.pk, deal.owner_id)
    return proposal


@transaction.atomic
def schedule_meeting(
    deal: Deal,
    *,
    actor: User,
    scheduled_at: dt.datetime,
    place: str = "",
    at: dt.datetime | None = None,
) -> Meeting:
    at = _when(at)
    with acting_as(actor, at=at):
        meeting = Meeting.objects.create(
            deal=deal, owner=deal.owner, scheduled_at=scheduled_at, place=place
        )
    _emit("meeting_scheduled", deal, at, actor.pk, deal.owner_id)
    return meeting


@transaction.atomic
def hold_meeting(meeting: Meeting, *, actor: User, at: dt.datetime | None = None) -> Meeting:
    at = _when(at)
    if meeting.status != Meeting.Status.PLANNED:
        raise DealError(_("Only a planned meeting can be marked as held."), "status")
    with acting_as(actor, at=at):
        meeting.status = Meeting.Status.HELD
        meeting.held_at = at
        meeting.save()
    _emit("meeting_held", meeting.deal, at, actor.pk, meeting.owner_id)
    return meeting


@transaction.atomic
def add_note(
    *,
    actor: User,
    text: str,
    deal: Deal | None = None,
    contact: Contact | None = None,
    at: dt.datetime | None = None,
) -> Note:
    if not text.strip():
        raise DealError(_("A note cannot be empty."), "text")
    if deal is None and contact is None:
        raise DealError(_("A note belongs to a deal or a contact."), "deal")
    at = _when(at)
    with acting_as(actor, at=at):
        note = Note.objects.create(
            deal=deal,
            contact=contact or (deal and deal.contact),
            author=actor,
            text=text.strip(),
            created_at=at,
        )
    _emit("note_added", deal, at, actor.pk)
    return note


@transaction.atomic
def create_task(
    *,
    actor: User,
    title: str,
    assignee: User,
    due_at: dt.datetime,
    deal: Deal | None = None,
    contact: Contact | None = None,
    kind: str = Task.Kind.CALL,
    at: dt.datetime | None = None,
) -> Task:
    if not title.strip():
        raise DealError(_("A task needs a title."), "title")
    if kind not in Task.Kind.values:
        raise DealError(_("Unknown task kind."), "kind")
    at = _when(at)
    with acting_as(actor, at=at):
        task = Task.objects.create(
            title=title.strip(),
            kind=kind,
            author=actor,
            assignee=assignee,
            due_at=_when(due_at),
            deal=deal,
            contact=contact,
            created_at=at,
        )
    _emit("task_created", deal, at, actor.pk, assignee.pk)
    return task


@transaction.atomic
def complete_task(task: Task, *, actor: User, at: dt.datetime | None = None) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk)
    at = _when(at)
    if task.done_at is not None:
        raise DealError(_("The task is already done."), "done_at")
    with acting_as(actor, at=at):
        task.done_at = at
        task.save()
    _emit("task_completed", task.deal, at, actor.pk, task.assignee_id)
    return task


@transaction.atomic
def archive(
    record: Proposal | Note | Meeting | Task, *, actor: User, at: dt.datetime | None = None
) -> None:
    """Hide a note, proposal, meeting or task from everyday views; it stays, audited."""
    at = _when(at)
    if record.archived_at is not None:
        return
    with acting_as(actor, at=at):
        record.archived_at = at
        record.archived_by = actor
        record.save()
    deal = getattr(record, "deal", None)
    _emit("archived", deal, at, actor.pk, deal.owner_id if deal else None)
