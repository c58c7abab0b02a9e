"""Acting on the client base: waking up a sleeping client."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User
from funnelwatch.audit.trail import acting_as
from funnelwatch.clients.models import Lifecycle, SegmentSnapshot, WakeUp
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Company, Task
from funnelwatch.lib.dates import local_date

WAKEABLE = (Lifecycle.SLEEPING, Lifecycle.LOST)


def wake_up_title(snapshot: SegmentSnapshot) -> str:
    return _("Wake up %(company)s: no purchase since %(day)s") % {
        # A task's title holds 200 characters; a company's name as many.
        "company": snapshot.company.name[:120],
        "day": local_date(snapshot.last_win_at, timezone.get_current_timezone()).isoformat()
        if snapshot.last_win_at
        else "—",
    }


@transaction.atomic
def wake_up(snapshot: SegmentSnapshot, *, actor: User) -> tuple[Task | None, bool]:
    """A call task for the client's manager (the actor when it has none), on the company's
    contact; (task, created). An open wake-up task for the company is returned instead of
    a second one; a client that is not sleeping or lost gets none: (None, False)."""
    if snapshot.lifecycle not in WAKEABLE:
        return None, False
    # One at a time per company: the row lock makes a second request wait for the first.
    company = Company.objects.select_for_update().get(pk=snapshot.company_id)
    pending = (
        WakeUp.objects.filter(
            company=company, task__done_at__isnull=True, task__archived_at__isnull=True
        )
        .select_related("task__assignee")
        .first()
    )
    if pending is not None:
        return pending.task, False
    assignee = snapshot.manager or actor
    contacts = company.contacts.order_by("-owner_id", "pk")
    contact = contacts.filter(owner=assignee).first() or contacts.first()
    task = crm.create_task(
        actor=actor,
        title=wake_up_title(snapshot),
        kind=Task.Kind.CALL,
        assignee=assignee,
        due_at=timezone.now() + dt.timedelta(days=1),
        contact=contact,
    )
    with acting_as(actor):
        WakeUp.objects.create(company=company, task=task, by=actor)
    return task, True
