"""Lead metrics: leads and conversion by source (credited like every new-lead number, to
the owner at creation), and the referrers' numbers (credited to the employee who passed
the lead on).

- ``leads_<source>``: the period's new leads from that source;
- ``won_<source>_pct``: of those, the share won (now);
- ``referred_leads``: leads an employee passed on, created in the period;
- ``referred_deals_pct``: of those, the share that became deals: moved past the new-lead
  block, or won;
- ``referred_won_amount``: the amount of deals they passed on that were won in the period.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Sum, When
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from funnelwatch.crm.metrics import _deals, cohort, wins
from funnelwatch.crm.models import Block, Deal, Outcome, StageChange
from funnelwatch.leads.models import LeadOrigin, SourceKind
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.common import bounds, day_points
from funnelwatch.metrics.registry import Metric, Point, register

Ids = set[int] | None
WIN_REFRESH = ("lead_created", "deal_won", "deal_reopened", "deal_lost", "deal_junk")


def _source_cohort(period: Period, ids: Ids, kind: str) -> QuerySet:
    return cohort(period, ids).filter(deal__origin__kind=kind)


for _kind, _label in SourceKind.choices:
    register(
        Metric(
            key=f"leads_{_kind}",
            refresh_on=("lead_created", "deal_updated"),
            block="intake",
            label=format_lazy(_("Leads: {source}"), source=_label),
            unit="count",
            kind="sum",
            compute=lambda p, ids, k=_kind: _cohort_points_of(p, ids, k, None),
            records=lambda p, ids, k=_kind: _deals(_source_cohort(p, ids, k)),
            description=format_lazy(_("New leads from {source} in the period."), source=_label),
        )
    )
    register(
        Metric(
            key=f"won_{_kind}_pct",
            refresh_on=WIN_REFRESH,
            block="intake",
            label=format_lazy(_("Won from {source}, %"), source=_label),
            unit="pct",
            kind="ratio",
            compute=lambda p, ids, k=_kind: _cohort_points_of(p, ids, k, Q(status=Outcome.WON)),
            records=lambda p, ids, k=_kind: _deals(_source_cohort(p, ids, k)).filter(
                status=Outcome.WON
            ),
            description=format_lazy(
                _("Share of the period's new leads from {source} that were won."), source=_label
            ),
        )
    )


def _cohort_points_of(period: Period, ids: Ids, kind: str, hit: Q | None) -> list[Point]:
    """The period's new leads from ``kind`` per owner at creation and day: how many, or
    (with ``hit``) how many ``hit`` over how many."""
    qs = _source_cohort(period, ids, kind)
    if hit is None:
        return day_points(qs, "to_owner_id", "deal__created_at", period)
    hits = Case(When(Exists(Deal.objects.filter(hit, pk=OuterRef("deal_id"))), then=1), default=0)
    return day_points(qs, "to_owner_id", "deal__created_at", period, hits)


# --- referrers -------------------------------------------------------------------------

# A lead "became a deal" when it left the new-lead block for an open stage, or was won.
_BECAME_DEAL = Exists(
    StageChange.objects.filter(deal=OuterRef("deal_id")).filter(
        Q(to_stage__outcome=Outcome.WON)
        | (Q(to_stage__outcome=Outcome.OPEN) & ~Q(to_stage__block=Block.INTAKE))
    )
)


def referred(period: Period, ids: Ids) -> QuerySet[LeadOrigin]:
    """Leads passed on by ``ids`` (anyone when None), created in the period."""
    start, end = bounds(period)
    qs = LeadOrigin.objects.filter(
        referrer__isnull=False, deal__created_at__gte=start, deal__created_at__lt=end
    )
    return qs if ids is None else qs.filter(referrer_id__in=ids)


def referred_wins(period: Period, ids: Ids) -> QuerySet[StageChange]:
    qs = wins(period, None).filter(deal__origin__referrer__isnull=False)
    return qs if ids is None else qs.filter(deal__origin__referrer_id__in=ids)


def referred_counts(period: Period, ids: Ids) -> tuple[int, int, Decimal]:
    """(leads passed on, of them became deals, won amount) for referrers ``ids``."""
    passed = referred(period, ids)
    total = passed.count()
    became = passed.filter(_BECAME_DEAL).count()
    amount = referred_wins(period, ids).aggregate(s=Sum("deal__amount"))["s"] or Decimal(0)
    return total, became, Decimal(amount)


def _referrer_counts(period: Period, groups: dict) -> tuple[dict, dict]:
    """Per group: (leads passed on, of them became deals), and (won amount,)."""
    from funnelwatch.metrics.grouped import aggregate_by_group

    passed = (
        referred(period, None)
        .annotate(became=Case(When(_BECAME_DEAL, then=1), default=0))
        .values("referrer_id", "became")
    )
    counted = aggregate_by_group(passed, "referrer_id", ["COUNT(*)", "SUM(w.became)"], groups)
    won = aggregate_by_group(
        referred_wins(period, None).values("deal__origin__referrer_id", "deal__amount"),
        "deal__origin__referrer_id",
        ["SUM(w.deal__amount)"],
        groups,
    )
    return counted, won


def _per_group(pick):
    """A period metric's values per group (one query per figure, whatever the number of
    groups); a group of nobody has none."""

    def values(period: Period, groups: dict) -> dict:
        # The three referrer metrics pick from the same two queries: made once per table.
        members = tuple((g, None if ids is None else frozenset(ids)) for g, ids in groups.items())
        counted, won = engine.once(
            ("referrer_counts", period, members), lambda: _referrer_counts(period, groups)
        )
        out = {}
        for g, ids in groups.items():
            if ids is not None and not ids:
                out[g] = None
                continue
            total, became = counted.get(g, (0, 0))
            (amount,) = won.get(g, (None,))
            # A sum the database made in floating point is exact to the cents.
            amount = Decimal(amount if isinstance(amount, Decimal) else repr(amount or 0))
            out[g] = pick((int(total or 0), int(became or 0), amount.quantize(Decimal("0.01"))))
        return out

    return values


def _share(counts: tuple[int, int, Decimal]) -> Decimal | None:
    total, became, _amount = counts
    return None if not total else (Decimal(100) * became / total).quantize(Decimal("0.1"))


register(
    Metric(
        key="referred_leads",
        block="intake",
        label=_("Leads passed on"),
        unit="count",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_per_group(lambda c: c[0]),
        records=lambda p, ids: _deals(referred(p, ids)),
        description=_("Leads the employee passed on (the referrer), created in the period."),
    )
)
register(
    Metric(
        key="referred_deals_pct",
        block="intake",
        label=_("Passed-on leads that became deals, %"),
        unit="pct",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_per_group(_share),
        records=lambda p, ids: _deals(referred(p, ids).filter(_BECAME_DEAL)),
        description=_("Share of the leads passed on that left the new-lead block or were won."),
    )
)
register(
    Metric(
        key="referred_won_amount",
        block="intake",
        label=_("Won from passed-on leads"),
        unit="money",
        kind="period",
        compute=lambda p, ids: iter(()),
        period_values=_per_group(lambda c: c[2]),
        records=lambda p, ids: _deals(referred_wins(p, ids), "at"),
        description=_("Amount of the passed-on deals won in the period."),
    )
)

# The rolled-up lead metrics (the demo rebuilds them after marking its leads' origins).
LEAD_KEYS = [
    f"{prefix}_{kind}{suffix}"
    for kind in SourceKind.values
    for prefix, suffix in (("leads", ""), ("won", "_pct"))
]
