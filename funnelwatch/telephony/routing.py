"""Whom to ring for a caller, and who gets the lead of an unknown caller.

1. The number belongs to a contact with an owner (or an open deal): that manager, when
   active and not absent today.
2. Otherwise weighted round-robin over managers who take new callers
   (``RoutingRule``; without any rule: every active manager, weight 1): skipped when
   absent today, outside their working hours, or at their daily cap. Among the rest the
   one with the fewest assignments today relative to their weight is next (ties: fewer
   in total today, then the lowest id), which spreads callers in proportion to weights.
   When nobody is within working hours, hours are ignored rather than losing the caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from funnelwatch.accounts.models import Absence, Role, User
from funnelwatch.crm.models import ContactPhone, Deal, Outcome
from funnelwatch.lib import dates, phones
from funnelwatch.telephony.models import RoutingAssignment, RoutingRule


@dataclass(frozen=True)
class Candidate:
    user: User
    weight: int
    daily_cap: int | None
    start_hour: int
    end_hour: int


def _today_bounds(at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    day = dates.local_date(at, tz)
    start = dates.day_start(day, tz)
    return start, start + dt.timedelta(days=1)


def _absent_ids(day: dt.date) -> set[int]:
    return set(
        Absence.objects.filter(start__lte=day, end__gte=day).values_list("user_id", flat=True)
    )


def owner_for_number(number: str) -> User | None:
    e164 = phones.normalize_or_none(number, settings.FUNNELWATCH_PHONE_REGION)
    if not e164:
        return None
    phone = (
        ContactPhone.objects.filter(number=e164)
        .select_related("contact__owner")
        .order_by("contact_id")
        .first()
    )
    if phone is None:
        return None
    owner = phone.contact.owner
    if owner is None:
        deal = (
            Deal.objects.filter(contact_id=phone.contact_id, status=Outcome.OPEN)
            .select_related("owner")
            .order_by("-created_at")
            .first()
        )
        owner = deal.owner if deal else None
    return owner if owner is not None and owner.is_active else None


def candidates() -> list[Candidate]:
    rules = list(
        RoutingRule.objects.filter(active=True, user__is_active=True).select_related("user")
    )
    if rules:
        return [
            Candidate(r.user, max(r.weight, 1), r.daily_cap, r.start_hour, r.end_hour)
            for r in rules
        ]
    start, end = settings.FUNNELWATCH_WORKDAY_START, settings.FUNNELWATCH_WORKDAY_END
    users = User.objects.filter(is_active=True, role=Role.MANAGER).order_by("pk")
    return [Candidate(u, 1, None, start, end) for u in users]


def _counts_of_day(at: dt.datetime) -> dict[int, int]:
    start, end = _today_bounds(at)
    return dict(
        RoutingAssignment.objects.filter(at__gte=start, at__lt=end)
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )


def _choose(
    pool: list[Candidate], absent: set[int], counts: dict[int, int], local: dt.datetime
) -> User | None:
    pool = [c for c in pool if c.user.pk not in absent]
    pool = [c for c in pool if c.daily_cap is None or counts.get(c.user.pk, 0) < c.daily_cap]
    workday = local.weekday() in settings.FUNNELWATCH_WORKDAYS
    on_duty = [c for c in pool if workday and c.start_hour <= local.hour < c.end_hour]
    pool = on_duty or pool
    if not pool:
        return None
    best = min(
        pool,
        key=lambda c: (
            (counts.get(c.user.pk, 0) + 1) / c.weight,
            counts.get(c.user.pk, 0),
            c.user.pk,
        ),
    )
    return best.user


def round_robin(at: dt.datetime) -> User | None:
    local = at.astimezone(timezone.get_current_timezone())
    return _choose(candidates(), _absent_ids(local.date()), _counts_of_day(at), local)


class Router:
    """Round-robin for many new callers at once (a CDR import): rules, absences and each
    day's counts are read once and kept current in memory, so every pick is the one
    :func:`assign` would make after the earlier picks were recorded. :meth:`save` writes
    the assignments."""

    def __init__(self) -> None:
        self._pool: list[Candidate] | None = None
        self._absent: dict[dt.date, set[int]] = {}
        self._counts: dict[dt.date, dict[int, int]] = {}
        self.assignments: list[RoutingAssignment] = []

    def assign_unknown(self, number: str, at: dt.datetime) -> User | None:
        """The manager for a caller no contact has (routing by owner cannot apply)."""
        local = at.astimezone(timezone.get_current_timezone())
        day = local.date()
        if self._pool is None:
            self._pool = candidates()
        if day not in self._absent:
            self._absent[day] = _absent_ids(day)
        counts = self._counts.get(day)
        if counts is None:
            counts = self._counts[day] = _counts_of_day(at)
        user = _choose(self._pool, self._absent[day], counts, local)
        if user is not None:
            counts[user.pk] = counts.get(user.pk, 0) + 1
            self.assignments.append(
                RoutingAssignment(
                    user=user,
                    number=number[:40],
                    reason=RoutingAssignment.Reason.ROUND_ROBIN,
                    at=at,
                )
            )
        return user

    def save(self) -> None:
        RoutingAssignment.objects.bulk_create(self.assignments, batch_size=500)
        self.assignments = []


def route(
    number: str, at: dt.datetime | None = None, record: bool = True
) -> tuple[User | None, str]:
    """(manager to ring, reason) for a caller's number."""
    at = at or timezone.now()
    owner = owner_for_number(number)
    if owner is not None and owner.pk not in _absent_ids(
        dates.local_date(at, timezone.get_current_timezone())
    ):
        user, reason = owner, RoutingAssignment.Reason.OWNER
    else:
        user, reason = round_robin(at), RoutingAssignment.Reason.ROUND_ROBIN
    if user is not None and record:
        RoutingAssignment.objects.create(user=user, number=number[:40], reason=reason, at=at)
    return user, reason


def assign(number: str, at: dt.datetime, record: bool = True) -> User | None:
    """The manager who gets a new lead from this caller."""
    return route(number, at, record=record)[0]


def report(since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Who received how many callers in a period, by reason."""
    rows = (
        RoutingAssignment.objects.filter(at__gte=since, at__lt=until)
        .values("user_id", "user__username", "user__first_name", "user__last_name", "reason")
        .annotate(n=Count("pk"))
        .order_by("user__username")
    )
    out: dict[int, dict] = {}
    for row in rows:
        item = out.setdefault(
            row["user_id"],
            {
                "user_id": row["user_id"],
                "username": row["user__username"],
                "name": f"{row['user__first_name']} {row['user__last_name']}".strip()
                or row["user__username"],
                "owner": 0,
                "round_robin": 0,
                "total": 0,
            },
        )
        item[row["reason"]] += row["n"]
        item["total"] += row["n"]
    return sorted(out.values(), key=lambda r: -r["total"])
