"""The alert rule of hand-offs: a request past its due time and still open.

The alert is the requester's (it shows with their alerts and reaches them, and the head,
like any other); the department's head is warned too (``notify.overdue_handoffs``) and
sees it on the department's requests page."""

from __future__ import annotations

from funnelwatch.alerts.models import Kind
from funnelwatch.alerts.rules import Context, Finding
from funnelwatch.handoffs.models import OPEN_STATES, Handoff
from funnelwatch.handoffs.services import working_minutes


def overdue(now):
    return (
        Handoff.objects.filter(state__in=OPEN_STATES, due_at__lt=now)
        .select_related("deal", "department")
        .order_by("due_at")
    )


def handoff_overdue(ctx: Context) -> list[Finding]:
    findings = []
    for h in overdue(ctx.now):
        findings.append(
            Finding.about(
                Kind.HANDOFF_OVERDUE,
                f"handoff_overdue:{h.pk}",
                h.requester_id,
                Handoff,
                h.pk,
                {
                    "handoff": h.pk,
                    "deal": h.deal_id,
                    "title": h.deal.title,
                    "department": h.department.name,
                    "department_id": h.department_id,
                    "department_head": h.department.head_id,
                    "state": h.state,
                    "due_at": h.due_at.isoformat(),
                    "minutes_late": round(working_minutes(h.due_at, ctx.now)),
                },
            )
        )
    return findings
