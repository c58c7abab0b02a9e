"""The numbers the leads pages show, read from the registered metrics."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count

from funnelwatch.accounts.models import User
from funnelwatch.leads.models import LeadOrigin, SourceKind
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import registry
from funnelwatch.metrics.common import bounds


def _total(key: str, period: Period, ids: set[int] | None) -> tuple[Decimal, Decimal]:
    value, weight = Decimal(0), Decimal(0)
    for point in registry.get(key).compute(period, ids):
        value += Decimal(str(point.value))
        weight += Decimal(str(point.weight))
    return value, weight


def by_source(period: Period, ids: set[int] | None) -> list[dict]:
    """Per source: the period's new leads and the share won (of the managers ``ids``)."""
    rows = []
    for kind, label in SourceKind.choices:
        leads, _w = _total(f"leads_{kind}", period, ids)
        won, of = _total(f"won_{kind}_pct", period, ids)
        pct = None if not of else (Decimal(100) * won / of).quantize(Decimal("0.1"))
        rows.append(
            {"kind": kind, "label": label, "leads": int(leads), "won": int(won), "pct": pct}
        )
    return rows


def referrer_numbers(period: Period, user_id: int) -> dict:
    group = {"me": {user_id}}
    return {
        key: registry.get(key).period_values(period, group)["me"]
        for key in ("referred_leads", "referred_deals_pct", "referred_won_amount")
    }


def referrer_rows(period: Period, ids: set[int] | None) -> list[dict]:
    """Everyone among ``ids`` (None: anyone) who passed on a lead, with their numbers."""
    start, end = bounds(period)
    people = LeadOrigin.objects.filter(referrer__isnull=False)
    if ids is not None:
        people = people.filter(referrer_id__in=ids)
    counted = dict(
        people.filter(deal__created_at__gte=start, deal__created_at__lt=end)
        .values("referrer")
        .annotate(n=Count("pk"))
        .values_list("referrer", "n")
    )
    every = set(people.values_list("referrer", flat=True).distinct())
    users = User.objects.filter(pk__in=every).order_by("first_name", "last_name", "username")
    return [
        {"user": u, "total": counted.get(u.pk, 0), **referrer_numbers(period, u.pk)} for u in users
    ]
