"""Small helpers metric definitions share: period bounds, local days, owner at a moment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from funnelwatch.lib.dates import Period, period_bounds

FOUR = Decimal("0.0001")


def company_tz() -> ZoneInfo:
    return timezone.get_current_timezone()


def bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The aware moments where the period's first day starts and its end day starts."""
    return period_bounds(period, company_tz())


def local_day(moment: dt.datetime, tz: ZoneInfo | None = None) -> dt.date:
    return moment.astimezone(tz or company_tz()).date()


def today() -> dt.date:
    return local_day(timezone.now())


def days_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    """Days as a Decimal rounded to 4 places, so sums of stored values stay exact."""
    return (Decimal((end - start).total_seconds()) / Decimal(86400)).quantize(FOUR)


def owner_at(deal_ref: str = "deal", when_ref: str = "at") -> Coalesce:
    """The deal's owner at the moment ``when_ref`` (from its owner history), as an annotation.

    Falls back to the current owner for records older than the deal's history.
    """
    from funnelwatch.crm.models import OwnerChange

    history = (
        OwnerChange.objects.filter(deal=OuterRef(deal_ref), at__lte=OuterRef(when_ref))
        .order_by("-at", "-id")
        .values("to_owner")[:1]
    )
    current = f"{deal_ref}__owner" if deal_ref != "pk" else "owner"
    return Coalesce(Subquery(history), F(current), output_field=BigIntegerField())
