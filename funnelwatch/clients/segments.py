"""Computing the segments of every company as of a day (rules in docs/clients.md).

- the window is the 12 months ending with the day: from the same day number 12 months
  before the next day up to the day itself (as of 31 March: 1 April to 31 March), cut in
  12 monthly buckets the same way (as of a month's last day they are calendar months);
- revenue: the amounts of the company's won deals closed in the window (local time);
- ABC over the companies with revenue, largest first: a company is A while the revenue of
  those before it is under ``a_pct`` % of the total, B while under ``a_pct + b_pct`` %,
  else C. Companies with equal revenue are one group and share the class of the first;
- XYZ over the same companies: the coefficient of variation (population standard deviation
  over mean) of the monthly buckets since the company's first win (at least the last 3, at
  most all 12), months without a win counting as 0: X up to ``x_max_pct`` %, Y up to
  ``y_max_pct`` %, Z above (both bounds inclusive);
- RFM over the companies with a win by the day (ever): R by the days since the last win
  (fewer is better), F by the wins in the window, M by the revenue in the window; each
  scored ``1 + floor(5 × worse / n)``, where ``worse`` counts the companies with a strictly
  worse value and ``n`` all of them: quintiles, where equal values share the lower score;
- lifecycle: potential (no win yet), lost (the last win ``lost_months`` or more before the
  day), sleeping (``sleeping_months`` or more), new (the first win less than
  ``new_months`` before the day), otherwise active.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from funnelwatch.audit.trail import acting_as
from funnelwatch.clients.models import Abc, Lifecycle, SegmentRun, SegmentSnapshot, Xyz
from funnelwatch.crm.models import Company, Deal, Outcome
from funnelwatch.lib.dates import day_start, local_date


@dataclass(frozen=True)
class Thresholds:
    a_pct: int = 80
    b_pct: int = 15
    x_max_pct: int = 50
    y_max_pct: int = 100
    new_months: int = 3
    sleeping_months: int = 3
    lost_months: int = 12

    @classmethod
    def from_settings(cls) -> Thresholds:
        found = cls(
            a_pct=settings.FUNNELWATCH_ABC_A_PCT,
            b_pct=settings.FUNNELWATCH_ABC_B_PCT,
            x_max_pct=settings.FUNNELWATCH_XYZ_X_MAX_PCT,
            y_max_pct=settings.FUNNELWATCH_XYZ_Y_MAX_PCT,
            new_months=settings.FUNNELWATCH_CLIENT_NEW_MONTHS,
            sleeping_months=settings.FUNNELWATCH_CLIENT_SLEEPING_MONTHS,
            lost_months=settings.FUNNELWATCH_CLIENT_LOST_MONTHS,
        )
        found.check()
        return found

    def check(self) -> None:
        if not (0 < self.a_pct and 0 <= self.b_pct and self.a_pct + self.b_pct <= 100):
            raise ImproperlyConfigured(
                "FUNNELWATCH_ABC_A_PCT must be above 0 and FUNNELWATCH_ABC_A_PCT + "
                "FUNNELWATCH_ABC_B_PCT at most 100"
            )
        if not 0 <= self.x_max_pct <= self.y_max_pct:
            raise ImproperlyConfigured(
                "FUNNELWATCH_XYZ_X_MAX_PCT must be between 0 and FUNNELWATCH_XYZ_Y_MAX_PCT"
            )
        if not 0 < self.sleeping_months < self.lost_months or self.new_months < 1:
            raise ImproperlyConfigured(
                "FUNNELWATCH_CLIENT_SLEEPING_MONTHS must be above 0 and below "
                "FUNNELWATCH_CLIENT_LOST_MONTHS; FUNNELWATCH_CLIENT_NEW_MONTHS at least 1"
            )


@dataclass
class Segment:
    company_id: int
    company: str
    manager_id: int | None
    revenue: Decimal = Decimal("0")
    wins: int = 0
    monthly: list[Decimal] = field(default_factory=lambda: [Decimal("0")] * 12)
    abc: str = ""
    xyz: str = ""
    variation: float | None = None
    recency_days: int | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    lifecycle: str = Lifecycle.POTENTIAL
    first_win_at: dt.datetime | None = None
    last_win_at: dt.datetime | None = None

    @property
    def rfm(self) -> str:
        return "" if self.r_score is None else f"{self.r_score}{self.f_score}{self.m_score}"

    def as_json(self) -> dict:
        return {
            "company_id": self.company_id,
            "company": self.company,
            "manager_id": self.manager_id,
            "revenue": str(self.revenue),
            "wins": self.wins,
            "abc": self.abc or None,
            "xyz": self.xyz or None,
            "variation_pct": self.variation,
            "rfm": self.rfm or None,
            "lifecycle": self.lifecycle,
        }


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (earlier when negative), at most the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def bucket_starts(as_of: dt.date) -> list[dt.date]:
    """The first days of the 12 monthly buckets, newest first, and the window's first day
    last (13 dates: bucket k is ``[starts[k], starts[k - 1])``, with the day after
    ``as_of`` ending bucket 0)."""
    nxt = as_of + dt.timedelta(days=1)
    return [add_months(nxt, -k) for k in range(1, 13)]


# XYZ looks at no fewer months than this, so one sale last month is not "steady".
MIN_XYZ_MONTHS = 3


def _bucket(day: dt.date, starts: list[dt.date]) -> int:
    """The bucket of a day in the window (0: the newest)."""
    return next(i for i, first in enumerate(starts) if day >= first)


def abc_classes(revenues: dict[int, Decimal], t: Thresholds) -> dict[int, str]:
    total = sum(revenues.values(), Decimal("0"))
    out: dict[int, str] = {}
    if total <= 0:
        return out
    groups: dict[Decimal, list[int]] = defaultdict(list)
    for company_id, revenue in revenues.items():
        if revenue > 0:
            groups[revenue].append(company_id)
    before = Decimal("0")
    for revenue in sorted(groups, reverse=True):
        if before * 100 < t.a_pct * total:
            cls = Abc.A
        elif before * 100 < (t.a_pct + t.b_pct) * total:
            cls = Abc.B
        else:
            cls = Abc.C
        for company_id in groups[revenue]:
            out[company_id] = cls
        before += revenue * len(groups[revenue])
    return out


def xyz_class(monthly: list[Decimal], t: Thresholds) -> tuple[str, float | None]:
    """The class and the coefficient of variation (%) of monthly revenue; exact at the bounds."""
    values = [Fraction(v) for v in monthly]
    mean = sum(values, Fraction(0)) / len(values)
    if mean <= 0:
        return "", None
    variance = sum(((v - mean) ** 2 for v in values), Fraction(0)) / len(values)
    # cv <= bound  <=>  variance × 100² <= bound² × mean²  (no square root, no rounding)
    if variance * 10000 <= t.x_max_pct**2 * mean**2:
        cls = Xyz.X
    elif variance * 10000 <= t.y_max_pct**2 * mean**2:
        cls = Xyz.Y
    else:
        cls = Xyz.Z
    return cls, round(float(variance) ** 0.5 / float(mean) * 100, 1)


def quintile_scores(values: dict[int, object], *, lower_is_better: bool = False) -> dict[int, int]:
    """``1 + floor(5 × worse / n)``: equal values get the same (lower) score."""
    n = len(values)
    ordered = sorted(values.values())
    out = {}
    for key, value in values.items():
        if lower_is_better:
            worse = n - bisect.bisect_right(ordered, value)
        else:
            worse = bisect.bisect_left(ordered, value)
        out[key] = 1 + (5 * worse) // n
    return out


def lifecycle(first: dt.date | None, last: dt.date | None, as_of: dt.date, t: Thresholds) -> str:
    if first is None or last is None:
        return Lifecycle.POTENTIAL
    if last <= add_months(as_of, -t.lost_months):
        return Lifecycle.LOST
    if last <= add_months(as_of, -t.sleeping_months):
        return Lifecycle.SLEEPING
    if first > add_months(as_of, -t.new_months):
        return Lifecycle.NEW
    return Lifecycle.ACTIVE


def compute(as_of: dt.date, thresholds: Thresholds | None = None) -> list[Segment]:
    """Every company's segments as of the end of the local day ``as_of``."""
    t = thresholds or Thresholds.from_settings()
    tz = timezone.get_current_timezone()
    end = day_start(as_of + dt.timedelta(days=1), tz)
    starts = bucket_starts(as_of)
    window_start = day_start(starts[-1], tz)

    wins = (
        Deal.objects.filter(
            status=Outcome.WON, company__isnull=False, closed_at__isnull=False, closed_at__lt=end
        )
        .order_by("closed_at", "pk")
        .values_list("company_id", "closed_at", "amount")
    )
    companies = Company.objects.filter(
        Q(created_at__lt=end) | Q(deals__created_at__lt=end)
    ).distinct()
    # The client's manager: the company's owner, else the owner of its latest deal.
    latest_owner: dict[int, int] = {}
    for company_id, owner_id in (
        Deal.objects.filter(company__isnull=False, created_at__lt=end)
        .order_by("created_at", "pk")
        .values_list("company_id", "owner_id")
    ):
        latest_owner[company_id] = owner_id
    segments = {
        c.pk: Segment(c.pk, c.name, c.owner_id or latest_owner.get(c.pk))
        for c in companies.only("pk", "name", "owner_id")
    }

    for company_id, closed_at, amount in wins:
        seg = segments.get(company_id)
        if seg is None:
            continue
        seg.first_win_at = seg.first_win_at or closed_at
        seg.last_win_at = closed_at
        if closed_at >= window_start:
            seg.revenue += amount
            seg.wins += 1
            day = local_date(closed_at, tz)
            # bucket k holds [starts[k], starts[k-1]); bucket 0 ends with as_of
            k = _bucket(day, starts)
            seg.monthly[k] += amount

    classes = abc_classes({s.company_id: s.revenue for s in segments.values()}, t)
    clients = [s for s in segments.values() if s.last_win_at is not None]
    for seg in clients:
        seg.recency_days = (as_of - local_date(seg.last_win_at, tz)).days
    if clients:
        r = quintile_scores({s.company_id: s.recency_days for s in clients}, lower_is_better=True)
        f = quintile_scores({s.company_id: s.wins for s in clients})
        m = quintile_scores({s.company_id: s.revenue for s in clients})
    for seg in segments.values():
        seg.abc = classes.get(seg.company_id, "")
        if seg.abc:
            first = local_date(seg.first_win_at, tz)
            since = _bucket(first, starts) + 1 if first >= starts[-1] else 12
            seg.xyz, seg.variation = xyz_class(seg.monthly[: max(MIN_XYZ_MONTHS, since)], t)
        if seg.last_win_at is not None:
            seg.r_score, seg.f_score, seg.m_score = (
                r[seg.company_id],
                f[seg.company_id],
                m[seg.company_id],
            )
            seg.lifecycle = lifecycle(
                local_date(seg.first_win_at, tz), local_date(seg.last_win_at, tz), as_of, t
            )
    return sorted(segments.values(), key=lambda s: (-s.revenue, s.company.lower(), s.company_id))


def store(as_of: dt.date, *, by=None, segments: list[Segment] | None = None) -> SegmentRun:
    """Compute (unless given) and keep the segments as the snapshot of ``as_of``'s month,
    replacing that month's earlier snapshot whole.

    Two computations of one month at once (the nightly job and a click) could both insert
    after both deleted: the second then meets the unique (company, month) constraint, and
    is run again after the first committed, so the month is written whole, once."""
    for attempt in range(3):
        try:
            return _store(as_of, by, segments if segments is not None else compute(as_of))
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _store(as_of: dt.date, by, segments: list[Segment]) -> SegmentRun:
    month = month_of(as_of)
    now = timezone.now()
    SegmentSnapshot.objects.filter(month=month).delete()
    SegmentSnapshot.objects.bulk_create(
        [
            SegmentSnapshot(
                company_id=s.company_id,
                month=month,
                as_of=as_of,
                manager_id=s.manager_id,
                revenue=s.revenue,
                wins=s.wins,
                abc=s.abc,
                xyz=s.xyz,
                variation=s.variation,
                recency_days=s.recency_days,
                r_score=s.r_score,
                f_score=s.f_score,
                m_score=s.m_score,
                lifecycle=s.lifecycle,
                first_win_at=s.first_win_at,
                last_win_at=s.last_win_at,
                computed_at=now,
            )
            for s in segments
        ],
        batch_size=1000,
    )
    with acting_as(by):
        return SegmentRun.objects.create(
            as_of=as_of, month=month, companies=len(segments), by=by, at=now
        )


def refresh(today: dt.date) -> list[SegmentRun]:
    """The nightly upkeep: today's month as of today, once a day, and the month before
    closed as of its last day when it was not yet. Safe to run any number of times."""
    runs = []
    previous = month_of(add_months(month_of(today), -1))
    closed = SegmentRun.objects.filter(month=previous, as_of=month_end(previous), by__isnull=True)
    if not closed.exists():
        runs.append(store(month_end(previous)))
    if not SegmentRun.objects.filter(month=month_of(today), as_of=today, by__isnull=True).exists():
        runs.append(store(today))
    return runs
