"""The CRM's metrics (docs/metrics.md: new leads, proposals, objections, closing, daily control,
tasks, sales analysis), one ``register(Metric(...))`` per number.

Who is credited: the deal's owner at the time of the event (``StageChange.owner`` for
stage changes, the owner history for other events); cohort metrics credit the owner at
the deal's creation. Notes, proposals, meetings and tasks that were archived do not count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm.models import (
    Block,
    Deal,
    Meeting,
    Note,
    Outcome,
    OwnerChange,
    Proposal,
    StageChange,
    Task,
)
from funnelwatch.crm.rollups import owner_at
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.common import (
    ElapsedMicroseconds,
    LocalDay,
    bounds,
    cents,
    day_points,
    days_of,
    today,
)
from funnelwatch.metrics.registry import (
    Metric,
    Point,
    RecordShape,
    link_to,
    record_shape,
    register,
)

Ids = set[int] | None

# Which CRM events can change which numbers (a re-assignment refreshes everything of its
# day: see funnelwatch.metrics.refresh). crm_actions follows the audit trail instead.
MOVES = ("stage_moved", "deal_won", "deal_lost", "deal_junk", "deal_reopened")
PROPOSAL_EVENTS = ("proposal_sent", "archived")
WIN_EVENTS = ("deal_won", "deal_updated")
TASK_EVENTS = ("task_completed", "archived")


def _mine(qs: QuerySet, field: str, ids: Ids) -> QuerySet:
    return qs if ids is None else qs.filter(**{f"{field}__in": ids})


def _deals(events: QuerySet, when: str | None = None) -> QuerySet[Deal]:
    """The deals of ``events`` (rows with a ``deal_id``). ``when`` names the events' time:
    each deal carries its latest such event as ``event_at``, the time a drill-down shows
    (a win, a loss; without it, the deal's creation)."""
    deals = Deal.objects.filter(pk__in=events.values("deal_id")).select_related(
        "owner", "stage", "contact", "lost_reason", "junk_reason"
    )
    if when is None:
        return deals
    latest = events.filter(deal_id=OuterRef("pk")).order_by(f"-{when}").values(when)[:1]
    return deals.annotate(event_at=Subquery(latest))


# --- cohorts and events ------------------------------------------------------


def cohort(period: Period, ids: Ids) -> QuerySet[OwnerChange]:
    """Deals created in the period, as their first owner-history row (owner at creation)."""
    start, end = bounds(period)
    qs = OwnerChange.objects.filter(
        from_owner__isnull=True, deal__created_at__gte=start, deal__created_at__lt=end
    )
    return _mine(qs, "to_owner", ids)


def creation_owner(deal_ref: str = "pk") -> Subquery:
    """The deal's owner at creation (its first owner-history row), as an annotation: who
    the numbers about a new lead belong to, as :func:`cohort` credits them (None for a
    deal without history, which no cohort counts)."""
    first = (
        OwnerChange.objects.filter(deal=OuterRef(deal_ref), from_owner__isnull=True)
        .order_by("at", "pk")
        .values("to_owner")[:1]
    )
    return Subquery(first, output_field=BigIntegerField())


def _cohort_points(period: Period, ids: Ids, hit: Q) -> list[Point]:
    """The period's new leads per owner at creation and day: value = how many ``hit``."""
    hits = Case(When(Exists(Deal.objects.filter(hit, pk=OuterRef("deal_id"))), then=1), default=0)
    return day_points(cohort(period, ids), "to_owner_id", "deal__created_at", period, hits)


def stage_entries(period: Period, ids: Ids, **stage: object) -> QuerySet[StageChange]:
    """Stage changes into stages matching ``stage`` lookups, in the period, by owner."""
    start, end = bounds(period)
    qs = StageChange.objects.filter(
        at__gte=start, at__lt=end, **{f"to_stage__{k}": v for k, v in stage.items()}
    )
    return _mine(qs, "owner", ids)


def wins(period: Period, ids: Ids) -> QuerySet[StageChange]:
    return stage_entries(period, ids, outcome=Outcome.WON)


def losses(period: Period, ids: Ids) -> QuerySet[StageChange]:
    return stage_entries(period, ids, outcome=Outcome.LOST)


def stays_ended(period: Period, ids: Ids, **stage: object) -> QuerySet[StageChange]:
    """Stays in open stages that ended in the period, credited to the owner when they ended."""
    start, end = bounds(period)
    qs = StageChange.objects.filter(
        left_at__gte=start,
        left_at__lt=end,
        to_stage__outcome=Outcome.OPEN,
        **{f"to_stage__{k}": v for k, v in stage.items()},
    ).annotate(leaver=owner_at("deal", "left_at"))
    return _mine(qs, "leaver", ids)


_AMOUNT = cents("deal__amount")
_PROFIT = cents("deal__amount") - cents("deal__cost")


def _win_points(period: Period, ids: Ids, value: Expression, weight: Expression | None = None):
    """Wins per owner and day: ``value`` (cents) summed, ``weight`` (cents) or the count."""
    scale = 100 if weight is not None else None
    return day_points(wins(period, ids), "owner_id", "at", period, value, weight, 100, scale)


def _timed(
    model: type[Model], time_field: str, period: Period, ids: Ids, extra: Q | None = None
) -> QuerySet:
    """Active records of ``model`` dated in the period, annotated with the deal's owner then."""
    start, end = bounds(period)
    qs = model.objects.filter(
        archived_at__isnull=True,
        deal__isnull=False,
        **{f"{time_field}__gte": start, f"{time_field}__lt": end},
    )
    if extra is not None:
        qs = qs.filter(extra)
    return _mine(qs.annotate(credited=owner_at("deal", time_field)), "credited", ids)


def _count_points(qs: QuerySet, who: str, when: str, period: Period) -> list[Point]:
    """How many records per manager and local day (counted by the database)."""
    return day_points(qs, who, when, period)


# --- 1. new leads --------------------------------------------------------------

register(
    Metric(
        key="leads_received",
        refresh_on=("lead_created",),
        block="intake",
        label=_("Leads received"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(cohort(p, ids), "to_owner_id", "deal__created_at", p),
        records=lambda p, ids: _deals(cohort(p, ids)),
        description=_("Deals created in the period, credited to the owner at creation."),
    )
)

register(
    Metric(
        key="junk_pct",
        refresh_on=("lead_created", "deal_junk", "deal_reopened"),
        block="intake",
        label=_("Junk leads, %"),
        unit="pct",
        kind="ratio",
        good="down",
        compute=lambda p, ids: _cohort_points(p, ids, Q(status=Outcome.JUNK)),
        records=lambda p, ids: _deals(cohort(p, ids)).filter(status=Outcome.JUNK),
        description=_("Share of the period's new leads closed as junk (now)."),
    )
)

# --- 2. proposals --------------------------------------------------------------


def proposals(period: Period, ids: Ids) -> QuerySet[Proposal]:
    return _timed(Proposal, "sent_at", period, ids)


def _proposal_amounts(period: Period, ids: Ids) -> list[Point]:
    return day_points(
        proposals(period, ids), "credited", "sent_at", period, cents("amount"), scale=100
    )


def held_meetings(period: Period, ids: Ids) -> QuerySet[Meeting]:
    return _timed(Meeting, "held_at", period, ids, Q(status=Meeting.Status.HELD))


register(
    Metric(
        key="proposals_sent",
        refresh_on=PROPOSAL_EVENTS,
        block="proposal",
        label=_("Proposals sent"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(proposals(p, ids), "credited", "sent_at", p),
        records=lambda p, ids: proposals(p, ids).select_related("deal", "author"),
    )
)
register(
    Metric(
        key="proposals_amount",
        refresh_on=PROPOSAL_EVENTS,
        block="proposal",
        label=_("Proposals amount"),
        unit="money",
        kind="sum",
        compute=_proposal_amounts,
        records=lambda p, ids: proposals(p, ids).select_related("deal", "author"),
    )
)
register(
    Metric(
        key="meetings_held",
        refresh_on=("meeting_held", "archived"),
        block="proposal",
        label=_("Meetings held"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(held_meetings(p, ids), "credited", "held_at", p),
        records=lambda p, ids: held_meetings(p, ids).select_related("deal", "owner"),
    )
)
_HAS_PROPOSAL = Q(Exists(Proposal.objects.filter(deal=OuterRef("pk"), archived_at__isnull=True)))
register(
    Metric(
        key="lead_to_proposal_pct",
        refresh_on=("lead_created", *PROPOSAL_EVENTS),
        block="proposal",
        label=_("Leads to proposal, %"),
        unit="pct",
        kind="ratio",
        compute=lambda p, ids: _cohort_points(p, ids, _HAS_PROPOSAL),
        records=lambda p, ids: _deals(cohort(p, ids)).filter(_HAS_PROPOSAL),
        description=_("Share of the period's new leads that got at least one proposal."),
    )
)

# --- 3. objections -------------------------------------------------------------


@dataclass(frozen=True)
class AttemptSource:
    """Records that count as objection-handling attempts: a model with a ``deal`` and a time.

    Telephony and mail add theirs with :func:`add_objection_attempt_source`.
    """

    model: type[Model]
    time_field: str
    extra: Q = field(default_factory=Q)
    archivable: bool = True


OBJECTION_ATTEMPT_SOURCES: list[AttemptSource] = [
    AttemptSource(Meeting, "held_at", Q(status=Meeting.Status.HELD)),
    AttemptSource(Note, "created_at"),
    AttemptSource(Proposal, "sent_at"),
]


def add_objection_attempt_source(
    model: type[Model], time_field: str, extra: Q | None = None, archivable: bool = True
) -> None:
    source = AttemptSource(model, time_field, extra or Q(), archivable)
    if source not in OBJECTION_ATTEMPT_SOURCES:
        OBJECTION_ATTEMPT_SOURCES.append(source)


def _attempts(source: AttemptSource, period: Period, ids: Ids) -> QuerySet:
    start, end = bounds(period)
    when = source.time_field
    in_objections = StageChange.objects.filter(
        deal=OuterRef("deal"),
        to_stage__block=Block.OBJECTIONS,
        to_stage__outcome=Outcome.OPEN,
        at__lte=OuterRef(when),
    ).filter(Q(left_at__isnull=True) | Q(left_at__gt=OuterRef(when)))
    qs = source.model.objects.filter(
        source.extra, deal__isnull=False, **{f"{when}__gte": start, f"{when}__lt": end}
    )
    if source.archivable:
        qs = qs.filter(archived_at__isnull=True)
    qs = qs.filter(Exists(in_objections)).annotate(credited=owner_at("deal", when))
    return _mine(qs, "credited", ids)


def _attempt_points(period: Period, ids: Ids) -> list[Point]:
    return [
        point
        for source in OBJECTION_ATTEMPT_SOURCES
        for point in _count_points(
            _attempts(source, period, ids), "credited", source.time_field, period
        )
    ]


def _attempt_records(period: Period, ids: Ids) -> list:
    out: list = []
    for source in OBJECTION_ATTEMPT_SOURCES:
        out.extend(_attempts(source, period, ids).select_related("deal")[:500])
    return out


def objection_losses(period: Period, ids: Ids) -> QuerySet[StageChange]:
    return losses(period, ids).filter(from_stage__block=Block.OBJECTIONS)


def _stay_points(qs: QuerySet, period: Period, places: Decimal | None = None) -> Iterator[Point]:
    """One point per stay: its length in days (as :func:`days_between` rounds it)."""
    rows = (
        qs.annotate(day=LocalDay("left_at", period), us=ElapsedMicroseconds("at", "left_at"))
        .order_by()
        .values_list("leaver", "day", "us")
    )
    for owner, day, us in rows:
        days = days_of(us)
        yield Point(owner, day, days.quantize(places) if places else days, 1)


register(
    Metric(
        key="objection_attempts",
        # Calls and letters on the deal count too (telephony and mail add their sources).
        refresh_on=("note_added", "meeting_held", *PROPOSAL_EVENTS, *MOVES, "call", "letter"),
        block="objections",
        label=_("Objection handling attempts"),
        unit="count",
        kind="sum",
        compute=_attempt_points,
        records=_attempt_records,
        description=_(
            "Meetings, notes, proposals (and calls, e-mails) on deals while they stood "
            "in an objections stage."
        ),
    )
)
register(
    Metric(
        key="objection_failures",
        refresh_on=("deal_lost",),
        block="objections",
        label=_("Lost at objections"),
        unit="count",
        kind="sum",
        good="down",
        compute=lambda p, ids: _count_points(objection_losses(p, ids), "owner_id", "at", p),
        records=lambda p, ids: _deals(objection_losses(p, ids), "at"),
    )
)
register(
    Metric(
        key="objection_avg_days",
        refresh_on=MOVES,
        block="objections",
        label=_("Days in objections (mean)"),
        unit="days",
        kind="mean",
        good="down",
        compute=lambda p, ids: _stay_points(stays_ended(p, ids, block=Block.OBJECTIONS), p),
        records=lambda p, ids: stays_ended(p, ids, block=Block.OBJECTIONS).select_related(
            "deal", "to_stage", "owner"
        ),
    )
)

# --- 4. closing ------------------------------------------------------------------


def _closing_entries(period: Period, ids: Ids) -> QuerySet[StageChange]:
    """A deal's first entry into the closing block (a contract stage, or straight to won)."""
    closing = Q(to_stage__block=Block.CLOSING, to_stage__outcome__in=[Outcome.OPEN, Outcome.WON])
    earlier = StageChange.objects.filter(closing, deal=OuterRef("deal"), at__lt=OuterRef("at"))
    start, end = bounds(period)
    qs = StageChange.objects.filter(closing, at__gte=start, at__lt=end).exclude(Exists(earlier))
    return _mine(qs, "owner", ids)


def _first_proposals(period: Period, ids: Ids) -> QuerySet[Proposal]:
    earlier = Proposal.objects.filter(
        deal=OuterRef("deal"), archived_at__isnull=True, sent_at__lt=OuterRef("sent_at")
    )
    return proposals(period, ids).exclude(Exists(earlier))


def _won_share(qs: QuerySet, who: str, when: str, period: Period) -> list[Point]:
    won = Case(When(deal__status=Outcome.WON, then=1), default=0)
    return day_points(qs, who, when, period, won)


register(
    Metric(
        key="won_amount",
        refresh_on=WIN_EVENTS,
        block="closing",
        label=_("Won amount"),
        unit="money",
        kind="sum",
        compute=lambda p, ids: _win_points(p, ids, _AMOUNT),
        records=lambda p, ids: _deals(wins(p, ids), "at"),
    )
)
register(
    Metric(
        key="won_count",
        refresh_on=WIN_EVENTS,
        block="closing",
        label=_("Deals won"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(wins(p, ids), "owner_id", "at", p),
        records=lambda p, ids: _deals(wins(p, ids), "at"),
    )
)
register(
    Metric(
        key="closing_to_won_pct",
        refresh_on=MOVES,
        block="closing",
        label=_("Closing to won, %"),
        unit="pct",
        kind="ratio",
        compute=lambda p, ids: _won_share(_closing_entries(p, ids), "owner_id", "at", p),
        records=lambda p, ids: _deals(_closing_entries(p, ids), "at"),
        description=_("Deals that reached closing in the period and were won (cohort)."),
    )
)
register(
    Metric(
        key="proposal_to_won_pct",
        refresh_on=(*PROPOSAL_EVENTS, "deal_won"),
        block="closing",
        label=_("Proposal to won, %"),
        unit="pct",
        kind="ratio",
        compute=lambda p, ids: _won_share(_first_proposals(p, ids), "credited", "sent_at", p),
        records=lambda p, ids: _deals(_first_proposals(p, ids), "sent_at"),
        description=_("Deals with a first proposal in the period that were won (cohort)."),
    )
)

# --- daily control -----------------------------------------------------------------

ACTION_KINDS = [
    AuditEvent.Action.CREATE,
    AuditEvent.Action.UPDATE,
    AuditEvent.Action.ARCHIVE,
    AuditEvent.Action.UNARCHIVE,
]


def actions(period: Period, ids: Ids) -> QuerySet[AuditEvent]:
    """The managers' own changes in the system (audit trail, made by them as users), by
    the time each took effect."""
    start, end = bounds(period)
    qs = AuditEvent.objects.filter(
        occurred_at__gte=start,
        occurred_at__lt=end,
        actor__isnull=False,
        source=AuditEvent.Source.USER,
        action__in=ACTION_KINDS,
    )
    return _mine(qs, "actor", ids)


def _stalled_q() -> Q:
    """Open deals longer in their stage than the stage's norm (one condition per stage)."""
    from funnelwatch.crm.models import Stage

    now = timezone.now()
    cond = Q(pk__in=[])
    for stage_id, norm in Stage.objects.filter(norm_days__isnull=False).values_list(
        "pk", "norm_days"
    ):
        cond |= Q(stage_id=stage_id, stage_entered_at__lt=now - dt.timedelta(days=norm))
    return Q(status=Outcome.OPEN) & cond


def stalled(ids: Ids) -> QuerySet[Deal]:
    return _mine(Deal.objects.filter(_stalled_q()), "owner", ids).select_related("stage", "owner")


def _counted(qs: QuerySet, who: str) -> Iterator[Point]:
    """Live counts per manager, counted by the database."""
    day = today()
    for owner, n in qs.values(who).annotate(n=Count("pk")).values_list(who, "n"):
        yield Point(owner, day, n)


def _lost_records(period: Period, ids: Ids) -> QuerySet[Deal]:
    return _deals(losses(period, ids), "at")


register(
    Metric(
        key="crm_actions",
        refresh_on=(),
        block="daily",
        label=_("Actions in the CRM"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(actions(p, ids), "actor_id", "occurred_at", p),
        records=lambda p, ids: actions(p, ids).select_related("actor"),
        description=_("Records the manager created, edited or archived (from the audit trail)."),
    )
)
register(
    Metric(
        key="lost_count",
        refresh_on=("deal_lost",),
        block="daily",
        label=_("Deals lost"),
        unit="count",
        kind="sum",
        good="down",
        compute=lambda p, ids: _count_points(losses(p, ids), "owner_id", "at", p),
        records=_lost_records,
    )
)
register(
    Metric(
        key="revived_pct",
        refresh_on=("deal_lost", "deal_reopened"),
        block="daily",
        label=_("Lost deals revived, %"),
        unit="pct",
        kind="ratio",
        compute=lambda p, ids: day_points(
            losses(p, ids),
            "owner_id",
            "at",
            p,
            Case(When(left_at__isnull=False, then=1), default=0),
        ),
        records=lambda p, ids: _deals(losses(p, ids).filter(left_at__isnull=False), "at"),
        description=_("Share of the deals lost in the period that were re-opened since."),
    )
)
register(
    Metric(
        key="stalled_deals",
        block="daily",
        label=_("Stalled deals (now)"),
        unit="count",
        kind="live",
        good="down",
        compute=lambda p, ids: _counted(stalled(ids), "owner"),
        # Stalled since they entered the stage they stand in.
        records=lambda p, ids: stalled(ids).annotate(event_at=F("stage_entered_at")),
    )
)
register(
    Metric(
        key="stage_velocity",
        refresh_on=MOVES,
        block="daily",
        label=_("Days per stage (median)"),
        unit="days",
        kind="median",
        good="down",
        # Samples to a tenth of a day: plenty for a median, and equal samples can be
        # counted together when a period's median is read.
        compute=lambda p, ids: _stay_points(stays_ended(p, ids), p, Decimal("0.1")),
        records=lambda p, ids: stays_ended(p, ids).select_related("deal", "to_stage", "owner"),
    )
)

# --- tasks ---------------------------------------------------------------------------


def tasks_done(period: Period, ids: Ids, late: bool = False) -> QuerySet[Task]:
    start, end = bounds(period)
    qs = Task.objects.filter(archived_at__isnull=True, done_at__gte=start, done_at__lt=end)
    if late:
        qs = qs.filter(done_at__gt=F("due_at"))
    return _mine(qs, "assignee", ids)


def tasks_overdue(ids: Ids) -> QuerySet[Task]:
    qs = Task.objects.filter(
        archived_at__isnull=True, done_at__isnull=True, due_at__lt=timezone.now()
    )
    return _mine(qs, "assignee", ids)


register(
    Metric(
        key="tasks_done",
        refresh_on=TASK_EVENTS,
        block="tasks",
        label=_("Tasks done"),
        unit="count",
        kind="sum",
        compute=lambda p, ids: _count_points(tasks_done(p, ids), "assignee_id", "done_at", p),
        records=lambda p, ids: tasks_done(p, ids).select_related("deal", "assignee"),
    )
)
register(
    Metric(
        key="tasks_overdue",
        block="tasks",
        label=_("Tasks overdue (now)"),
        unit="count",
        kind="live",
        good="down",
        compute=lambda p, ids: _counted(tasks_overdue(ids), "assignee"),
        records=lambda p, ids: tasks_overdue(ids).select_related("deal", "assignee"),
    )
)
register(
    Metric(
        key="tasks_done_late",
        refresh_on=TASK_EVENTS,
        block="tasks",
        label=_("Tasks done late"),
        unit="count",
        kind="sum",
        good="down",
        compute=lambda p, ids: _count_points(
            tasks_done(p, ids, late=True), "assignee_id", "done_at", p
        ),
        records=lambda p, ids: tasks_done(p, ids, late=True).select_related("deal", "assignee"),
    )
)

# --- sales analysis ----------------------------------------------------------------------


def won_records(period: Period, ids: Ids) -> QuerySet:
    """The won deals behind a sales number (plans' ``plan_pct`` lists them too)."""
    return _deals(wins(period, ids), "at")


_won_records = won_records


def _turnover_per_client(period: Period, groups: dict) -> dict:
    """Won amount / distinct clients: a client is the deal's company, else its contact,
    else the deal itself (numbered apart: 3n, 3n + 1, 3n + 2)."""
    from funnelwatch.metrics.grouped import aggregate_by_group

    rows = (
        wins(period, None)
        .annotate(
            client=Case(
                When(deal__company_id__isnull=False, then=F("deal__company_id") * 3),
                When(deal__contact_id__isnull=False, then=F("deal__contact_id") * 3 + 1),
                default=F("deal_id") * 3 + 2,
            )
        )
        .values("owner_id", "deal__amount", "client")
        .order_by()  # aggregated: the stage changes' default order would only cost a sort
    )
    found = aggregate_by_group(
        rows, "owner_id", ["SUM(w.deal__amount)", "COUNT(DISTINCT w.client)"], groups
    )
    out = {}
    for key in groups:
        total, clients = found.get(key, (None, 0))
        if not clients:
            out[key] = None
            continue
        # Amounts have cents; a sum the database made in floating point is exact to them.
        total = Decimal(total if isinstance(total, Decimal) else repr(total or 0))
        out[key] = (total.quantize(Decimal("0.01")) / clients).quantize(Decimal("0.01"))
    return out


def _revenue_growth(period: Period, groups: dict) -> dict:
    from funnelwatch.metrics.engine import group_values

    now = group_values(["revenue"], period, groups)
    before = group_values(["revenue"], period.previous(), groups)
    out = {}
    for key in groups:
        cur, prev = now[key]["revenue"], before[key]["revenue"]
        out[key] = None if not prev else float((cur - prev) / prev * 100)
    return out


def sales_cost(period: Period) -> Decimal | None:
    """The sales system's cost over the period, from the monthly figure in settings."""
    monthly = Decimal(str(settings.FUNNELWATCH_MONTHLY_SALES_COST or "0"))
    if monthly <= 0:
        return None
    return monthly * period.days * 12 / Decimal("365.25")


def _cost_of_sales(period: Period, groups: dict) -> dict:
    """Cost / revenue; a group of managers carries its head-count share of the cost."""
    from funnelwatch.accounts.models import Role, User
    from funnelwatch.metrics.engine import group_values

    cost = sales_cost(period)
    revenue = group_values(["revenue"], period, groups)
    sellers = User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.TEAM_LEAD]).count()
    out = {}
    for key, members in groups.items():
        rev = revenue[key]["revenue"]
        if cost is None or not rev or not sellers:
            out[key] = None
            continue
        share = cost if members is None else cost * min(len(members), sellers) / sellers
        out[key] = float(share / rev * 100)
    return out


register(
    Metric(
        key="revenue",
        refresh_on=WIN_EVENTS,
        block="sales",
        label=_("Revenue"),
        unit="money",
        kind="sum",
        compute=lambda p, ids: _win_points(p, ids, _AMOUNT),
        records=_won_records,
    )
)
register(
    Metric(
        key="revenue_growth_pct",
        block="sales",
        label=_("Revenue growth, %"),
        unit="pct",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_revenue_growth,
        records=_won_records,
        description=_("Revenue against the previous period of the same length."),
    )
)
register(
    Metric(
        key="gross_profit",
        refresh_on=WIN_EVENTS,
        block="sales",
        label=_("Gross profit"),
        unit="money",
        kind="sum",
        compute=lambda p, ids: _win_points(p, ids, _PROFIT),
        records=_won_records,
    )
)
register(
    Metric(
        key="margin_pct",
        refresh_on=WIN_EVENTS,
        block="sales",
        label=_("Margin, %"),
        unit="pct",
        kind="ratio",
        compute=lambda p, ids: _win_points(p, ids, _PROFIT, _AMOUNT),
        records=_won_records,
    )
)
register(
    Metric(
        key="avg_check",
        refresh_on=WIN_EVENTS,
        block="sales",
        label=_("Average check"),
        unit="money",
        kind="mean",
        compute=lambda p, ids: _win_points(p, ids, _AMOUNT),
        records=_won_records,
    )
)
register(
    Metric(
        key="avg_turnover_per_client",
        block="sales",
        label=_("Turnover per client"),
        unit="money",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_turnover_per_client,
        # Wins and deal amounts change with deal events, which rebuild their days.
        reuse_with_rollups=True,
        records=_won_records,
        description=_("Won amount / distinct clients (companies, or contacts without one)."),
    )
)
register(
    Metric(
        key="cost_of_sales_pct",
        block="sales",
        label=_("Cost of sales, %"),
        unit="pct",
        kind="period",
        good="down",
        compute=lambda p, ids: iter(()),
        period_values=_cost_of_sales,
        records=_won_records,
        description=_("Cost of the sales system (FUNNELWATCH_MONTHLY_SALES_COST) / revenue."),
    )
)


# --- drill-down lines ------------------------------------------------------------------


def _deal_detail(deal: Deal) -> str:
    from funnelwatch.core.templatetags.humanize_fw import money

    detail = str(deal.lost_reason or deal.junk_reason or deal.get_status_display())
    return f"{detail} · {money(deal.amount)}" if deal.amount else detail


def _amount(amount: Decimal | None) -> str:
    from funnelwatch.core.templatetags.humanize_fw import money

    return money(amount) if amount is not None else ""


def _stay_detail(stay: StageChange) -> str:
    from funnelwatch.core.templatetags.humanize_fw import duration_days

    return duration_days(stay.left_at - stay.at) if stay.left_at else ""


def _audit_link(event: AuditEvent) -> str | None:
    from django.urls import reverse

    pages = {"crm.deal": "crm:deal", "crm.contact": "crm:contact"}
    name = pages.get(event.object_type)
    return reverse(name, args=[event.object_id]) if name and event.object_id.isdigit() else None


_ON_DEAL = link_to("crm:deal", "deal_id")
record_shape(
    Deal,
    RecordShape(
        # event_at: the win, loss, ... the metric counted (see _deals); else the creation.
        when=("event_at", "created_at"),
        who="owner",
        deal="",
        contact="contact",
        link=link_to("crm:deal"),
        label=str,
        detail=_deal_detail,
        related=("owner", "contact", "lost_reason", "junk_reason"),
    ),
)
record_shape(
    StageChange,
    RecordShape(
        # The stays metrics count a stay when it ended, for the deal's owner then.
        when=("left_at", "at"),
        who=("leaver", "owner"),
        deal="deal",
        link=_ON_DEAL,
        label=lambda stay: stay.to_stage,
        detail=_stay_detail,
        related=("deal", "to_stage", "owner"),
    ),
)
record_shape(
    Proposal,
    RecordShape(
        when=("sent_at",),
        who="author",
        deal="deal",
        link=_ON_DEAL,
        label=lambda p: p.get_channel_display(),
        detail=lambda p: _amount(p.amount) or p.comment,
        related=("deal", "author"),
    ),
)
record_shape(
    Meeting,
    RecordShape(
        when=("held_at", "scheduled_at"),
        who="owner",
        deal="deal",
        link=_ON_DEAL,
        label=lambda m: m.place or m.get_status_display(),
        detail=lambda m: m.get_status_display(),
        related=("deal", "owner"),
    ),
)
record_shape(
    Note,
    RecordShape(
        when=("created_at",),
        who="author",
        deal="deal",
        contact="contact",
        link=_ON_DEAL,
        related=("deal", "author"),
    ),
)
record_shape(
    Task,
    RecordShape(
        # Done tasks by when they were done, overdue ones by when they were due.
        when=("done_at", "due_at"),
        who="assignee",
        deal="deal",
        contact="contact",
        link=lambda t: _ON_DEAL(t) or link_to("crm:contact", "contact_id")(t),
        label=str,
        detail=lambda t: t.get_kind_display(),
        related=("deal", "contact", "assignee"),
    ),
)
record_shape(
    AuditEvent,
    RecordShape(
        # When the change took effect (imported history keeps its own time there).
        when=("occurred_at", "at"),
        who="actor",
        link=_audit_link,
        label=lambda e: e.object_repr or f"{e.object_type} #{e.object_id}",
        detail=lambda e: e.get_action_display(),
        related=("actor",),
    ),
)
