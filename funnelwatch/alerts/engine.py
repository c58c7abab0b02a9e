"""Evaluating the rules: alerts open, update and resolve themselves."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.alerts import messages
from funnelwatch.alerts.models import Alert, RuleSettings, Status
from funnelwatch.alerts.rules import RULES, Context, Finding

logger = logging.getLogger("funnelwatch.alerts")


def make_context(now: dt.datetime) -> Context:
    return Context(
        now=now,
        tz=timezone.get_current_timezone(),
        thresholds={s.team_id: s for s in RuleSettings.objects.all()},
        team_of=dict(User.objects.values_list("pk", "team_id")),
    )


def evaluate(now: dt.datetime | None = None, kinds: list[str] | None = None) -> dict[str, str]:
    """Run the rules; return per kind "skipped" or "N open, M resolved"."""
    ctx = make_context(now or timezone.now())
    summary = {}
    for kind, rule in RULES.items():
        if kinds and kind not in kinds:
            continue
        findings = rule(ctx)
        if findings is None:
            summary[kind] = "skipped"
            continue
        summary[kind] = apply(kind, findings, ctx.now)
    return summary


@transaction.atomic
def apply(kind: str, findings: list[Finding], now: dt.datetime) -> str:
    """Make the unresolved alerts of ``kind`` match ``findings`` exactly."""
    current = {
        a.cause_key: a
        for a in Alert.objects.select_for_update().filter(kind=kind, resolved_at__isnull=True)
    }
    seen = set()
    new: list[Alert] = []
    for finding in findings:
        seen.add(finding.cause_key)
        status = Status.SNOOZED if finding.snoozed else Status.OPEN
        alert = current.get(finding.cause_key)
        if alert is None:
            if not finding.snoozed:  # a snoozed cause waits silently until the snooze ends
                new.append(new_alert(kind, finding, now))
        elif (alert.numbers, alert.status, alert.manager_id) != (
            finding.numbers,
            status,
            finding.manager_id,
        ):
            alert.numbers, alert.status = finding.numbers, status
            alert.message = messages.render(kind, finding.numbers)
            alert.manager_id, alert.updated_at = finding.manager_id, now
            alert.save(update_fields=["numbers", "message", "status", "manager", "updated_at"])
    Alert.objects.bulk_create(new, batch_size=1000)
    gone = [a.pk for key, a in current.items() if key not in seen]
    Alert.objects.filter(pk__in=gone).update(
        status=Status.RESOLVED, resolved_at=now, updated_at=now
    )
    return f"{len(seen)} current, {len(new)} opened, {len(gone)} resolved"


def new_alert(kind: str, finding: Finding, now: dt.datetime) -> Alert:
    """The (unsaved) alert a finding opens."""
    subject = finding.subject_model_and_id()
    return Alert(
        kind=kind,
        manager_id=finding.manager_id,
        cause_key=finding.cause_key,
        subject_type=ContentType.objects.get_for_model(subject[0]) if subject else None,
        subject_id=subject[1] if subject else None,
        numbers=finding.numbers,
        message=messages.render(kind, finding.numbers),
        opened_at=now,
        updated_at=now,
        status=Status.OPEN,
    )
