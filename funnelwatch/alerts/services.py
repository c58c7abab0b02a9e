"""Decisions people take on alerts: snoozing a stalled deal, reviewing a lost deal."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import can_see_user
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.models import Alert, DealSnooze, Kind, LostReview, Status
from funnelwatch.audit import trail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.lib.dates import local_date


class AlertError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def can_review(user: User, deal: Deal) -> bool:
    """The head, or the team lead of the deal's owner."""
    if user.is_head:
        return True
    return user.role == Role.TEAM_LEAD and can_see_user(user, deal.owner_id)


@transaction.atomic
def snooze_deal(
    deal: Deal, *, actor: User, until: dt.date, reason: str, at: dt.datetime | None = None
) -> DealSnooze:
    """The head lets a stalled deal wait until a date; its alert is snoozed meanwhile."""
    at = at or timezone.now()
    if not actor.is_head:
        raise AlertError(_("Only the head of sales can snooze a deal."))
    if not reason.strip():
        raise AlertError(_("Say why the deal may wait."), "reason")
    if until < local_date(at, timezone.get_current_timezone()):
        raise AlertError(_("Choose a day in the future."), "until")
    with acting_as(actor, at=at):
        snooze = DealSnooze.objects.create(
            deal=deal, until=until, reason=reason.strip(), by=actor, created_at=at
        )
    Alert.objects.filter(
        kind=Kind.STALLED_DEAL, cause_key=f"stalled_deal:{deal.pk}", resolved_at__isnull=True
    ).update(status=Status.SNOOZED, updated_at=at)
    return snooze


def next_working_morning(at: dt.datetime) -> dt.datetime:
    tz = timezone.get_current_timezone()
    day = local_date(at, tz) + dt.timedelta(days=1)
    cal = WorkCalendar(day, day + dt.timedelta(days=30))
    while not cal.is_company_workday(day) and day < local_date(at, tz) + dt.timedelta(days=30):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(settings.FUNNELWATCH_WORKDAY_START), tzinfo=tz)


@transaction.atomic
def review_lost(
    deal: Deal, *, actor: User, decision: str, comment: str = "", at: dt.datetime | None = None
) -> LostReview:
    """Keep a lost deal lost, or return it to the funnel with a task for its owner."""
    at = at or timezone.now()
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if not can_review(actor, deal):
        raise AlertError(_("Only the head or the owner's team lead reviews lost deals."))
    if deal.status != Outcome.LOST:
        raise AlertError(_("The deal is not lost (any more)."), "decision")
    if decision not in LostReview.Decision.values:
        raise AlertError(_("Choose keep lost or return to the funnel."), "decision")
    if LostReview.objects.filter(deal=deal, lost_at=deal.closed_at).exists():
        raise AlertError(_("This loss has already been reviewed."), "decision")
    review = LostReview(
        deal=deal,
        lost_at=deal.closed_at,
        lost_reason=deal.lost_reason,
        owner=deal.owner,
        decision=decision,
        comment=comment.strip(),
        reviewed_by=actor,
        reviewed_at=at,
    )
    if decision == LostReview.Decision.RETURNED:
        crm.reopen(deal, actor=actor, at=at)
        review.task = crm.create_task(
            actor=actor,
            assignee=deal.owner,
            deal=deal,
            at=at,
            due_at=next_working_morning(at),
            title=_("Returned from lost: call the client back"),
        )
    with acting_as(actor, at=at):
        review.save()
    return review


def can_resolve(user: User, alert: Alert) -> bool:
    """The head, an admin, or the team lead of the alert's manager."""
    if user.is_superuser or user.is_head or user.role == Role.ADMIN:
        return True
    return (
        user.role == Role.TEAM_LEAD
        and alert.manager_id is not None
        and alert.manager_id != user.pk
        and can_see_user(user, alert.manager_id)
    )


@transaction.atomic
def resolve_alert(alert: Alert, *, actor: User, at: dt.datetime | None = None) -> list[Alert]:
    """Mark an alert handled, with the other open alerts on the same deal (the list shows
    them as one line). A rule whose cause still holds opens a new alert at its next run:
    resolving says "dealt with", it does not silence the rule (snoozing a deal does)."""
    at = at or timezone.now()
    if not can_resolve(actor, alert):
        raise AlertError(_("Only the head or the manager's team lead resolves alerts."))
    targets = [alert]
    deal = alert.numbers.get("deal") if isinstance(alert.numbers, dict) else None
    if deal:
        targets += list(
            Alert.objects.filter(manager_id=alert.manager_id, resolved_at__isnull=True)
            .exclude(pk=alert.pk)
            .filter(numbers__deal=deal)
        )
    done = []
    locked = Alert.objects.select_for_update().filter(
        pk__in=[a.pk for a in targets], resolved_at__isnull=True
    )
    with acting_as(actor, at=at):
        for row in locked:
            before = row.status
            row.status, row.resolved_at, row.updated_at = Status.RESOLVED, at, at
            row.save(update_fields=["status", "resolved_at", "updated_at"])
            trail.record(
                row,
                AuditEvent.Action.UPDATE,
                {"status": [before, Status.RESOLVED], "resolved_at": [None, at.isoformat()]},
            )
            done.append(row)
    return done
