"""The alert rules: each is a small function from the current state to findings.

A rule returns the list of causes that hold *now* (``Finding``), or None when it cannot
run here (telephony or plans not installed); the engine (``engine.py``) opens, updates
and resolves ``Alert`` rows from that list.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from funnelwatch.accounts.models import Role, User
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.models import Kind, RuleSettings
from funnelwatch.alerts.stats import median, robust_sigma
from funnelwatch.crm.models import ContactPhone, Deal, Meeting, Outcome, Proposal, Task
from funnelwatch.lib.dates import (
    Period,
    local_date,
    working_deadline,
    working_minutes_between,
)
from funnelwatch.metrics import registry

logger = logging.getLogger("funnelwatch.alerts")

ACTIVITY_METRICS = ("crm_actions", "calls_out", "proposals_sent")
RECENT_DAYS = 5
BASELINE_WEEKS = 4


@dataclass
class Finding:
    kind: str
    cause_key: str
    manager_id: int | None
    subject: models.Model | None
    numbers: dict
    snoozed: bool = False

    @classmethod
    def about(
        cls,
        kind: str,
        cause_key: str,
        manager_id: int | None,
        model: type[models.Model],
        pk: int,
        numbers: dict,
        snoozed: bool = False,
    ) -> Finding:
        """A finding about a record known by its id (no need to load the row)."""
        finding = cls(kind, cause_key, manager_id, None, numbers, snoozed)
        finding.subject_ref = (model, pk)
        return finding

    subject_ref: tuple[type[models.Model], int] | None = None

    def subject_model_and_id(self) -> tuple[type[models.Model], int] | None:
        if self.subject is not None:
            return type(self.subject), self.subject.pk
        return self.subject_ref


@dataclass
class Context:
    now: dt.datetime
    tz: ZoneInfo
    thresholds: dict[int | None, RuleSettings] = field(default_factory=dict)
    team_of: dict[int, int | None] = field(default_factory=dict)

    @property
    def today(self) -> dt.date:
        return local_date(self.now, self.tz)

    def limits(self, manager_id: int | None) -> RuleSettings:
        team_id = self.team_of.get(manager_id) if manager_id else None
        return self.thresholds.get(team_id) or self.thresholds.get(None) or RuleSettings()

    def working_minutes(self, start: dt.datetime) -> float:
        return working_minutes_between(
            start,
            self.now,
            self.tz,
            list(settings.FUNNELWATCH_WORKDAYS),
            settings.FUNNELWATCH_WORKDAY_START,
            settings.FUNNELWATCH_WORKDAY_END,
        )

    @property
    def lookback(self) -> int:
        return max(s.lookback_days for s in [self.limits(None), *self.thresholds.values()])


def sla_due_at(start: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """When the call SLA of something that came in at ``start`` runs out (working minutes;
    outside working hours the clock starts at the next opening)."""
    return working_deadline(
        start,
        settings.FUNNELWATCH_CALL_SLA_MINUTES,
        tz,
        list(settings.FUNNELWATCH_WORKDAYS),
        settings.FUNNELWATCH_WORKDAY_START,
        settings.FUNNELWATCH_WORKDAY_END,
    )


def call_model() -> type[models.Model] | None:
    """The telephony app's Call model, or None while telephony is not installed."""
    try:
        return apps.get_model("telephony", "Call")
    except LookupError:
        return None


def managers() -> list[User]:
    return list(User.objects.filter(is_active=True, role=Role.MANAGER))


# --- activity drop ----------------------------------------------------------


def daily_values(
    key: str, period: Period, manager_ids: set[int]
) -> dict[tuple[int, dt.date], float]:
    """A metric's value per (manager, local day): from the metrics app's daily rollups, or
    computed through the registry when the source is "raw" or the metric is not rolled up."""
    metric = registry.get(key)
    out: dict[tuple[int, dt.date], float] = defaultdict(float)
    if settings.FUNNELWATCH_ALERTS_METRIC_SOURCE == "rollup" and metric.kind == "sum":
        from funnelwatch.metrics.models import DailyValue

        rows = DailyValue.objects.filter(
            metric=key, day__gte=period.start, day__lt=period.end, manager_id__in=manager_ids
        ).values_list("manager_id", "day", "value")
        for manager_id, day, value in rows:
            out[(manager_id, day)] += float(value)
        return out
    for point in metric.compute(period, manager_ids):
        out[(point.manager_id, point.day)] += float(point.value)
    return out


def activity_verdict(
    recent: list[float], baseline: list[float], limits: RuleSettings
) -> dict | None:
    """Numbers of a drop, or None when recent days are within the manager's usual.

    All three must hold:
    - the recent total is ``activity_drop_pct`` below the usual total (median baseline day
      times the number of recent days);
    - the shortfall is ``activity_mad_k`` robust deviations of a 5-day total (1.4826 x MAD
      of the baseline days x sqrt(5)), so a manager whose days always swing widely is not
      flagged for an ordinary swing;
    - the median recent day is below the usual day: most days were down, so one bad day
      (which moves the total but not the median) does not fire it.
    """
    if len(baseline) < RECENT_DAYS or not recent:
        return None
    usual_day = median(baseline)
    if usual_day < limits.activity_min_usual:
        return None
    value, usual = sum(recent), usual_day * len(recent)
    change = (value - usual) / usual * 100
    spread = robust_sigma(baseline) * math.sqrt(len(recent))
    deviations = (usual - value) / spread
    if change > -limits.activity_drop_pct or deviations < limits.activity_mad_k:
        return None
    if median(recent) >= usual_day:
        return None
    return {
        "value": round(value, 1),
        "usual": round(usual, 1),
        "change_pct": round(change),
        "days": len(recent),
        "usual_per_day": usual_day,
        "robust_deviations": round(deviations, 1),
    }


def activity_drop(ctx: Context) -> list[Finding] | None:
    keys = [k for k in ACTIVITY_METRICS if k in {m.key for m in registry.all_metrics()}]
    people = managers()
    if not keys:
        return None  # the metrics are not defined here: leave any earlier alerts as they are
    if not people:
        return []
    ids = {m.pk for m in people}
    start = ctx.today - dt.timedelta(days=7 * (BASELINE_WEEKS + 3))
    cal = WorkCalendar(start, ctx.today, ids)
    windows = {}
    for m in people:
        recent = cal.last_workdays(m.pk, ctx.today, RECENT_DAYS, ctx.today - dt.timedelta(days=21))
        base = sorted(
            {d - dt.timedelta(days=7 * k) for d in recent for k in range(1, BASELINE_WEEKS + 1)}
            - set(recent)
        )
        windows[m.pk] = (recent, [d for d in base if cal.worked(m.pk, d)])
    findings = []
    for key in keys:
        values = daily_values(key, Period(start, ctx.today), ids)
        for m in people:
            recent, base = windows[m.pk]
            verdict = activity_verdict(
                [values.get((m.pk, d), 0.0) for d in recent],
                [values.get((m.pk, d), 0.0) for d in base],
                ctx.limits(m.pk),
            )
            if verdict:
                verdict.update(
                    metric=key,
                    recent_days=[d.isoformat() for d in recent],
                    baseline_days=[d.isoformat() for d in base],
                )
                findings.append(
                    Finding(Kind.ACTIVITY_DROP, f"activity_drop:{m.pk}:{key}", m.pk, m, verdict)
                )
    return findings


# --- stalled deals ----------------------------------------------------------


def _has_next_step(now: dt.datetime) -> Q:
    """A planned future task or meeting on the deal: somebody is on it."""
    task = Task.objects.filter(
        deal=OuterRef("pk"), done_at__isnull=True, archived_at__isnull=True, due_at__gte=now
    )
    meeting = Meeting.objects.filter(
        deal=OuterRef("pk"),
        status=Meeting.Status.PLANNED,
        archived_at__isnull=True,
        scheduled_at__gte=now,
    )
    return Q(Exists(task)) | Q(Exists(meeting))


def stalled_deal(ctx: Context) -> list[Finding] | None:
    from funnelwatch.alerts.models import DealSnooze

    deals = (
        Deal.objects.filter(status=Outcome.OPEN, stage__norm_days__isnull=False)
        .exclude(_has_next_step(ctx.now))
        .values_list(
            "pk",
            "title",
            "owner_id",
            "amount",
            "stage_entered_at",
            "stage__name",
            "stage__norm_days",
        )
    )
    snoozed = {
        deal_id: (until, reason)
        for deal_id, until, reason in DealSnooze.objects.filter(until__gte=ctx.today)
        .order_by("until")
        .values_list("deal_id", "until", "reason")
    }
    findings = []
    for pk, title, owner_id, amount, entered, stage, norm in deals:
        in_stage = ctx.now - entered
        if in_stage <= dt.timedelta(days=norm):
            continue
        numbers = {
            "deal": pk,
            "title": title,
            "stage": stage,
            "days_in_stage": in_stage.days,
            "norm_days": norm,
            "amount": str(amount),
        }
        if pk in snoozed:
            numbers["snoozed_until"] = snoozed[pk][0].isoformat()
            numbers["snooze_reason"] = snoozed[pk][1]
        findings.append(
            Finding.about(
                Kind.STALLED_DEAL,
                f"stalled_deal:{pk}",
                owner_id,
                Deal,
                pk,
                numbers,
                snoozed=pk in snoozed,
            )
        )
    return findings


# --- leads and missed calls (need telephony) --------------------------------


def _outbound_times(
    call: type[models.Model], numbers: set[str], since: dt.datetime
) -> dict[str, list[dt.datetime]]:
    out: dict[str, list[dt.datetime]] = defaultdict(list)
    rows = call.objects.filter(
        Q(to_number__in=numbers) | Q(client_number__in=numbers),
        direction="out",
        started_at__gte=since,
        archived_at__isnull=True,
    ).values_list("to_number", "client_number", "started_at")
    for to_number, client_number, started in rows:
        for number in {to_number, client_number} & numbers:
            out[number].append(started)
    return out


# Other first contacts with a new lead than an outbound call (a reply in a messenger, a
# letter): functions taking the leads and answering {deal id: first contact or None} for
# the leads they know how to reach; a lead they answer for is checked even without a phone.
FIRST_CONTACT_SOURCES: list = []


def lead_not_called(ctx: Context) -> list[Finding] | None:
    call = call_model()
    if call is None:
        return None
    since = ctx.now - dt.timedelta(days=ctx.lookback)
    leads = list(
        Deal.objects.filter(created_at__gte=since, status=Outcome.OPEN, contact__isnull=False)
    )
    phones: dict[int, set[str]] = defaultdict(set)
    for contact_id, number in ContactPhone.objects.filter(
        contact_id__in={d.contact_id for d in leads}
    ).values_list("contact_id", "number"):
        phones[contact_id].add(number)
    calls = _outbound_times(call, set().union(*phones.values()) if phones else set(), since)
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    other: dict[int, dt.datetime | None] = {}
    for source in FIRST_CONTACT_SOURCES:
        other.update(source(leads))
    findings = []
    for deal in leads:
        numbers = phones.get(deal.contact_id) or set()
        if not numbers and deal.pk not in other:
            continue
        if other.get(deal.pk) is not None:
            continue
        if any(t >= deal.created_at for n in numbers for t in calls.get(n, [])):
            continue
        waited = ctx.working_minutes(deal.created_at)
        if waited <= sla:
            continue
        findings.append(
            Finding(
                Kind.LEAD_NOT_CALLED,
                f"lead_not_called:{deal.pk}",
                deal.owner_id,
                deal,
                {
                    "deal": deal.pk,
                    "title": deal.title,
                    "minutes": round(waited),
                    "sla_minutes": sla,
                    "created_at": deal.created_at.isoformat(),
                },
            )
        )
    return findings


def client_owners(numbers: set[str]) -> dict[str, int]:
    """Who looks after each client number: the owner of the latest deal of the contact with
    that number, else the contact's owner."""
    contacts: dict[int, list[str]] = defaultdict(list)
    owners: dict[str, int] = {}
    for number, contact_id, owner_id in ContactPhone.objects.filter(number__in=numbers).values_list(
        "number", "contact_id", "contact__owner_id"
    ):
        contacts[contact_id].append(number)
        if owner_id:
            owners[number] = owner_id
    for contact_id, owner_id in (
        Deal.objects.filter(contact_id__in=contacts)
        .order_by("created_at")
        .values_list("contact_id", "owner_id")
    ):
        for number in contacts[contact_id]:
            owners[number] = owner_id
    return owners


def missed_call_not_returned(ctx: Context) -> list[Finding] | None:
    """One finding per client number with a missed call over its SLA, by the definition
    the missed-calls page and the morning meeting use (``telephony.missed``): a call
    missed at night or on a day off is due at the next opening plus the SLA, and a call
    waits until it is returned, however long ago it came (it is not let go after the
    ``lookback_days`` the other rules look at)."""
    if call_model() is None:
        return None
    from funnelwatch.telephony import missed

    return missed_call_findings(missed.overdue_numbers(ctx.now), ctx.now)


def missed_call_findings(overdue: dict[str, list], now: dt.datetime) -> list[Finding]:
    """The findings of ``missed_call_not_returned`` for these overdue numbers (as
    ``telephony.missed.overdue_numbers`` gives them)."""
    from funnelwatch.telephony import missed

    owners = client_owners(set(overdue)) if overdue else {}
    sla = settings.FUNNELWATCH_CALL_SLA_MINUTES
    model = call_model()
    findings = []
    for number, calls in overdue.items():
        first, last = calls[0], calls[-1]
        waited = missed.waited_minutes(first, now)
        # A call nobody picked up in a ring group has no manager: the client's owner it is.
        manager_id = last.manager_id or first.manager_id or owners.get(number)
        findings.append(
            Finding.about(
                Kind.MISSED_CALL_NOT_RETURNED,
                f"missed_call_not_returned:{number}",
                manager_id,
                model,
                last.pk,
                {
                    "call": last.pk,
                    "number": number,
                    "missed": len(calls),
                    "calls": [c.pk for c in calls],
                    "minutes": round(waited),
                    "sla_minutes": sla,
                    "first_missed_at": first.started_at.isoformat(),
                    "due_at": missed.due_at(first.started_at).isoformat(),
                    "deal": last.deal_id,
                },
            )
        )
    return findings


# --- meetings without a proposal --------------------------------------------


def meeting_without_proposal(ctx: Context) -> list[Finding] | None:
    since = ctx.now - dt.timedelta(days=ctx.lookback + 30)
    proposal_after = Proposal.objects.filter(
        deal=OuterRef("deal"), archived_at__isnull=True, sent_at__gte=OuterRef("held_at")
    )
    meetings = (
        Meeting.objects.filter(
            status=Meeting.Status.HELD,
            held_at__gte=since,
            archived_at__isnull=True,
            deal__status=Outcome.OPEN,
        )
        .exclude(Exists(proposal_after))
        .select_related("deal")
    )
    findings = []
    for meeting in meetings:
        limit = ctx.limits(meeting.owner_id).meeting_proposal_days
        waited = ctx.now - meeting.held_at
        if waited <= dt.timedelta(days=limit):
            continue
        findings.append(
            Finding(
                Kind.MEETING_WITHOUT_PROPOSAL,
                f"meeting_without_proposal:{meeting.pk}",
                meeting.owner_id,
                meeting.deal,
                {
                    "deal": meeting.deal_id,
                    "title": meeting.deal.title,
                    "meeting": meeting.pk,
                    "held_at": meeting.held_at.isoformat(),
                    "days": waited.days,
                    "limit_days": limit,
                },
            )
        )
    return findings


# --- CRM hygiene ------------------------------------------------------------


def crm_hygiene(ctx: Context) -> list[Finding] | None:
    without_step = defaultdict(list)
    for deal_id, owner_id in (
        Deal.objects.filter(status=Outcome.OPEN)
        .exclude(
            Exists(
                Task.objects.filter(
                    deal=OuterRef("pk"), done_at__isnull=True, archived_at__isnull=True
                )
            )
        )
        .exclude(
            Exists(
                Meeting.objects.filter(
                    deal=OuterRef("pk"),
                    archived_at__isnull=True,
                    status=Meeting.Status.PLANNED,
                    scheduled_at__gte=ctx.now,
                )
            )
        )
        .values_list("pk", "owner_id")
    ):
        without_step[owner_id].append(deal_id)
    overdue = defaultdict(list)
    for task_id, assignee_id in Task.objects.filter(
        done_at__isnull=True, archived_at__isnull=True, due_at__lt=ctx.now
    ).values_list("pk", "assignee_id"):
        overdue[assignee_id].append(task_id)
    findings = []
    for user_id in set(without_step) | set(overdue):
        limits = ctx.limits(user_id)
        n_deals, n_tasks = len(without_step[user_id]), len(overdue[user_id])
        if n_deals <= limits.hygiene_deals_without_task and n_tasks <= limits.hygiene_overdue_tasks:
            continue
        findings.append(
            Finding(
                Kind.CRM_HYGIENE,
                f"crm_hygiene:{user_id}",
                user_id,
                None,
                {
                    "deals_without_next_step": n_deals,
                    "overdue_tasks": n_tasks,
                    "deal_ids": sorted(without_step[user_id])[:20],
                    "allowed_deals": limits.hygiene_deals_without_task,
                    "allowed_overdue": limits.hygiene_overdue_tasks,
                },
            )
        )
    return findings


# --- plan at risk (once plans exist) ----------------------------------------


def plan_progress() -> Callable | None:
    """The plans app's ``progress(plan, today)``, or None while there are no plans."""
    try:
        apps.get_model("plans", "Plan")
        from funnelwatch.plans.progress import progress
    except (LookupError, ImportError):
        return None
    return progress


def plan_at_risk(ctx: Context) -> list[Finding] | None:
    progress = plan_progress()
    if progress is None:
        return None
    plan_model = apps.get_model("plans", "Plan")
    findings = []
    for plan in plan_model.objects.filter(
        first_day__lte=ctx.today, last_day__gte=ctx.today
    ).select_related("team"):
        state = progress(plan, ctx.today)
        if not state.at_risk:
            continue
        # A team's plan is the team lead's to worry about; the department's, the head's.
        manager_id = plan.manager_id or (plan.team.lead_id if plan.team_id else None)
        findings.append(
            Finding(
                Kind.PLAN_AT_RISK,
                f"plan_at_risk:{plan.pk}",
                manager_id,
                plan,
                {
                    "plan_id": plan.pk,
                    "title": plan.title,
                    "metric": plan.metric,
                    "plan": float(plan.target),
                    "fact": float(state.fact),
                    "needed_per_day": float(state.pace_needed),
                    "best_per_day": float(state.best_pace),
                    "days_left": state.days_left,
                },
            )
        )
    return findings


# --- an A client gone sleeping (once the client base is segmented) ------------------------


def a_client_sleeping(ctx: Context) -> list[Finding] | None:
    """Companies sleeping in the latest segment snapshot that are A clients in it or were
    in the month before; the client's manager is told."""
    try:
        snapshot_model = apps.get_model("clients", "SegmentSnapshot")
    except LookupError:
        return None
    month = snapshot_model.objects.aggregate(m=models.Max("month"))["m"]
    if month is None:
        return []
    from funnelwatch.clients.segments import add_months

    was_a = set(
        snapshot_model.objects.filter(month=add_months(month, -1), abc="A").values_list(
            "company_id", flat=True
        )
    )
    findings = []
    for snap in (
        snapshot_model.objects.filter(month=month, lifecycle="sleeping")
        .filter(Q(abc="A") | Q(company_id__in=was_a))
        .select_related("company")
    ):
        findings.append(
            Finding(
                Kind.A_CLIENT_SLEEPING,
                f"a_client_sleeping:{snap.company_id}",
                snap.manager_id,
                snap.company,
                {
                    "company": snap.company_id,
                    "title": snap.company.name,
                    "revenue": float(snap.revenue),
                    "last_win": local_date(snap.last_win_at, ctx.tz).isoformat()
                    if snap.last_win_at
                    else None,
                    "days": snap.recency_days,
                },
            )
        )
    return findings


RULES: dict[str, Callable[[Context], list[Finding] | None]] = {
    Kind.ACTIVITY_DROP: activity_drop,
    Kind.STALLED_DEAL: stalled_deal,
    Kind.LEAD_NOT_CALLED: lead_not_called,
    Kind.MISSED_CALL_NOT_RETURNED: missed_call_not_returned,
    Kind.MEETING_WITHOUT_PROPOSAL: meeting_without_proposal,
    Kind.PLAN_AT_RISK: plan_at_risk,
    Kind.CRM_HYGIENE: crm_hygiene,
    Kind.A_CLIENT_SLEEPING: a_client_sleeping,
}
