"""The only writer of hand-off requests: each step checks who may take it, and every
step is in the audit trail under the person who took it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch import metrics
from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import may_change_crm
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm.models import Deal
from funnelwatch.handoffs.models import OPEN_STATES, Department, Handoff, Kind, State
from funnelwatch.lib import dates

METRIC_KEYS = (
    "handoff_requests",
    "handoff_take_minutes",
    "handoff_done_minutes",
    "handoff_within_sla",
    "handoff_returns",
)


class HandoffError(Exception):
    """A step the rules refuse; ``field`` names the input at fault, ``forbidden`` marks a
    step the person may not take at all (answered 403)."""

    def __init__(self, message: str, field: str | None = None, forbidden: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.forbidden = forbidden


def working_minutes(start: dt.datetime, end: dt.datetime) -> float:
    return dates.working_minutes_between(
        start,
        end,
        timezone.get_current_timezone(),
        settings.FUNNELWATCH_WORKDAYS,
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def due_time(start: dt.datetime, minutes: float) -> dt.datetime:
    """``minutes`` of working time after ``start`` (a request made in the evening is due
    the next working morning plus its minutes)."""
    return dates.working_deadline(
        start,
        minutes,
        timezone.get_current_timezone(),
        settings.FUNNELWATCH_WORKDAYS,
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def _refresh(handoff: Handoff, *moments: dt.datetime | None) -> None:
    """The requester's rollups of the days the step is counted on."""
    tz = timezone.get_current_timezone()
    days = {dates.local_date(m, tz) for m in moments if m is not None}
    metrics.changed("handoff", [handoff.requester_id], days, keys=METRIC_KEYS)


def _when(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


@transaction.atomic
def request(
    *,
    actor: User,
    deal: Deal,
    department: Department,
    kind: str,
    text: str,
    at: dt.datetime | None = None,
) -> Handoff:
    """A request from ``deal`` to ``department``, due in the department's working time.
    The caller has checked that ``actor`` may see the deal."""
    if not may_change_crm(actor):
        raise HandoffError(_("You may not make requests from deals."), forbidden=True)
    if not department.active:
        raise HandoffError(_("This department takes no requests."), "department")
    if kind not in Kind.values:
        raise HandoffError(_("Unknown kind of request."), "kind")
    text = (text or "").strip()
    if not text:
        raise HandoffError(_("Say what is needed."), "text")
    at = _when(at)
    with acting_as(actor, at=at):
        handoff = Handoff.objects.create(
            deal=deal,
            department=department,
            kind=kind,
            text=text[:2000],
            requester=actor,
            created_at=at,
            due_at=due_time(at, department.sla_minutes),
        )
    _refresh(handoff, at)
    return handoff


def may_work_on(user: User, handoff: Handoff) -> bool:
    """The department's head and members take, finish and return its requests."""
    return user.is_authenticated and user.is_active and handoff.department.is_staff_member(user)


def _locked(handoff: Handoff, actor: User) -> Handoff:
    row = Handoff.objects.select_for_update().select_related("department").get(pk=handoff.pk)
    if not may_work_on(actor, row):
        raise HandoffError(_("Only the department's people work on its requests."), forbidden=True)
    return row


@transaction.atomic
def take(handoff: Handoff, *, actor: User, at: dt.datetime | None = None) -> Handoff:
    row = _locked(handoff, actor)
    if row.state != State.REQUESTED:
        raise HandoffError(_("The request has already been taken or closed."), "state")
    at = _when(at)
    with acting_as(actor, at=at):
        row.state, row.assignee, row.taken_at = State.TAKEN, actor, at
        row.take_minutes = round(working_minutes(row.created_at, at), 2)
        row.save()
    _refresh(row, at)
    return row


@transaction.atomic
def finish(handoff: Handoff, *, actor: User, at: dt.datetime | None = None) -> Handoff:
    """Done: only a taken request (whoever finishes it takes it, if it was not)."""
    row = _locked(handoff, actor)
    if row.state not in OPEN_STATES:
        raise HandoffError(_("The request is already closed."), "state")
    at = _when(at)
    with acting_as(actor, at=at):
        if row.state == State.REQUESTED:
            row.taken_at, row.assignee = at, actor
            row.take_minutes = round(working_minutes(row.created_at, at), 2)
        row.state, row.finished_at = State.DONE, at
        row.done_minutes = round(working_minutes(row.created_at, at), 2)
        row.within_sla = at <= row.due_at
        row.save()
    _refresh(row, at, row.taken_at)
    return row


@transaction.atomic
def give_back(
    handoff: Handoff, *, actor: User, reason: str, at: dt.datetime | None = None
) -> Handoff:
    """Returned to the requester with a reason (the invoice needs the client's tax id…)."""
    reason = (reason or "").strip()
    if not reason:
        raise HandoffError(_("Say why the request is returned."), "reason")
    row = _locked(handoff, actor)
    if row.state not in OPEN_STATES:
        raise HandoffError(_("The request is already closed."), "state")
    at = _when(at)
    with acting_as(actor, at=at):
        row.state, row.finished_at, row.return_reason = State.RETURNED, at, reason[:500]
        if row.assignee_id is None:
            row.assignee = actor
        row.save()
    _refresh(row, at)
    return row
