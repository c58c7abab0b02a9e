"""What the client-base pages show, narrowed to what the viewer may see.

A manager's clients are the companies whose snapshot names them as the manager (the
company's owner, else the owner of its latest deal); a team lead sees their team's, the
head everyone's (``funnelwatch.accounts.visibility``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import limit_to_owner, visible_user_ids
from funnelwatch.alerts.models import LostReview
from funnelwatch.audit.models import AuditEvent
from funnelwatch.clients.models import Abc, Lifecycle, SegmentSnapshot, Xyz
from funnelwatch.clients.segments import add_months
from funnelwatch.crm.models import Company, Deal, Outcome, StageChange
from funnelwatch.lib.dates import local_date

NONE = "—"


def latest_month() -> dt.date | None:
    return SegmentSnapshot.objects.aggregate(m=Max("month"))["m"]


def months() -> list[dt.date]:
    return list(
        SegmentSnapshot.objects.order_by("-month").values_list("month", flat=True).distinct()
    )


def snapshots_for(user: User, month: dt.date | None) -> QuerySet[SegmentSnapshot]:
    """The month's snapshots of the companies whose manager ``user`` may see."""
    qs = SegmentSnapshot.objects.filter(month=month).select_related("company", "manager")
    return limit_to_owner(user, qs, "manager")


def companies_for(user: User) -> QuerySet[Company]:
    """Companies the user may open: owned by, dealt with, managed by someone they see, or
    the company of a contact such a person owns."""
    ids = visible_user_ids(user)
    if ids is None:
        return Company.objects.all()
    return Company.objects.filter(
        Q(owner__in=ids)
        | Q(deals__owner__in=ids)
        | Q(contacts__owner__in=ids)
        | Q(segment_snapshots__manager__in=ids)
    ).distinct()


def matrix(snaps: QuerySet[SegmentSnapshot]) -> dict:
    """ABC rows × XYZ columns: companies and revenue per cell, with totals."""
    cells = {(a, x): {"count": 0, "revenue": Decimal("0")} for a in Abc.values for x in Xyz.values}
    for row in (
        snaps.exclude(abc="")
        .order_by()
        .values("abc", "xyz")
        .annotate(n=Count("pk"), rev=Sum("revenue"))
    ):
        cell = cells[(row["abc"], row["xyz"])]
        cell["count"], cell["revenue"] = row["n"], row["rev"] or Decimal("0")
    rows = []
    for a in Abc.values:
        line = [{"abc": a, "xyz": x, **cells[(a, x)]} for x in Xyz.values]
        rows.append(
            {
                "abc": a,
                "cells": line,
                "count": sum(c["count"] for c in line),
                "revenue": sum((c["revenue"] for c in line), Decimal("0")),
            }
        )
    columns = [
        {
            "xyz": x,
            "count": sum(cells[(a, x)]["count"] for a in Abc.values),
            "revenue": sum((cells[(a, x)]["revenue"] for a in Abc.values), Decimal("0")),
        }
        for x in Xyz.values
    ]
    return {
        "rows": rows,
        "columns": columns,
        "count": sum(r["count"] for r in rows),
        "revenue": sum((r["revenue"] for r in rows), Decimal("0")),
    }


def lifecycle_counts(snaps: QuerySet[SegmentSnapshot]) -> list[dict]:
    counts = dict(
        snaps.order_by().values("lifecycle").annotate(n=Count("pk")).values_list("lifecycle", "n")
    )
    return [
        {"value": v, "label": label, "count": counts.get(v, 0)} for v, label in Lifecycle.choices
    ]


def movement(user: User, month: dt.date) -> dict:
    """How the companies moved from the month before to ``month``: ABC and lifecycle, as
    from × to counts (a company missing from a month counts as "—")."""
    before = add_months(month, -1)
    now_rows = {s.company_id: s for s in snapshots_for(user, month)}
    then_rows = {s.company_id: s for s in snapshots_for(user, before)}
    abc_keys = [*Abc.values, NONE]
    life_keys = [*Lifecycle.values, NONE]
    abc = {(f, t): 0 for f in abc_keys for t in abc_keys}
    life = {(f, t): 0 for f in life_keys for t in life_keys}
    moved = []
    for company_id in now_rows.keys() | then_rows.keys():
        new, old = now_rows.get(company_id), then_rows.get(company_id)
        a_from = (old.abc or NONE) if old else NONE
        a_to = (new.abc or NONE) if new else NONE
        l_from = old.lifecycle if old else NONE
        l_to = new.lifecycle if new else NONE
        abc[(a_from, a_to)] += 1
        life[(l_from, l_to)] += 1
        if (a_from, l_from) != (a_to, l_to) and old is not None and new is not None:
            moved.append({"company": new.company, "abc": (a_from, a_to), "life": (l_from, l_to)})
    labels = dict(Lifecycle.choices)
    return {
        "before": before,
        "abc": [
            {"from": f, "cells": [{"to": t, "count": abc[(f, t)]} for t in abc_keys]}
            for f in abc_keys
        ],
        "abc_keys": abc_keys,
        "life": [
            {
                "from": labels.get(f, f),
                "cells": [{"to": t, "count": life[(f, t)]} for t in life_keys],
            }
            for f in life_keys
        ],
        "life_keys": [labels.get(k, k) for k in life_keys],
        "moved": sorted(moved, key=lambda m: m["company"].name)[:50],
        "has_before": bool(then_rows),
    }


# --- retention ------------------------------------------------------------------------------


def retention(user: User, start: dt.datetime, end: dt.datetime, month: dt.date | None) -> dict:
    """Per manager, over the won deals closed in ``[start, end)`` that ``user`` may see:
    revenue from new clients (the company's first win ever) and from existing ones, the
    repeat-sale rate (of the companies that bought, the share that have bought more than
    once by ``end``), and the sleeping clients of the latest snapshot."""
    won = limit_to_owner(
        user,
        Deal.objects.filter(status=Outcome.WON, closed_at__gte=start, closed_at__lt=end),
    ).values_list("pk", "owner_id", "company_id", "amount")
    won = list(won)
    companies = {c for _pk, _o, c, _a in won if c}
    first_win: dict[int, int] = {}
    wins_by_end: dict[int, int] = defaultdict(int)
    for pk, company_id in (
        Deal.objects.filter(status=Outcome.WON, company__in=companies, closed_at__lt=end)
        .order_by("closed_at", "pk")
        .values_list("pk", "company_id")
    ):
        first_win.setdefault(company_id, pk)
        wins_by_end[company_id] += 1

    def blank() -> dict:
        return {
            "won": Decimal("0"),
            "new": Decimal("0"),
            "existing": Decimal("0"),
            "no_company": Decimal("0"),
            "buyers": set(),
            "sleeping": 0,
        }

    per: dict[int, dict] = defaultdict(blank)
    total = blank()
    for pk, owner_id, company_id, amount in won:
        for bucket in (per[owner_id], total):
            bucket["won"] += amount
            if company_id is None:
                bucket["no_company"] += amount
            elif first_win.get(company_id) == pk:
                bucket["new"] += amount
            else:
                bucket["existing"] += amount
            if company_id is not None:
                bucket["buyers"].add(company_id)
    sleeping = snapshots_for(user, month).filter(lifecycle=Lifecycle.SLEEPING)
    for manager_id, n in (
        sleeping.order_by()
        .values("manager_id")
        .annotate(n=Count("pk"))
        .values_list("manager_id", "n")
    ):
        per[manager_id]["sleeping"] += n
        total["sleeping"] += n
    names = {u.pk: u for u in User.objects.filter(pk__in=[k for k in per if k])}

    def finish(bucket: dict) -> dict:
        buyers = bucket.pop("buyers")
        repeat = sum(1 for c in buyers if wins_by_end[c] > 1)
        bucket["buyers"] = len(buyers)
        bucket["repeat"] = repeat
        bucket["repeat_pct"] = round(100 * repeat / len(buyers)) if buyers else None
        return bucket

    rows = [
        {"manager": names.get(k), **finish(v)}
        for k, v in sorted(per.items(), key=lambda kv: str(names.get(kv[0], "")))
    ]
    return {"rows": rows, "total": finish(total)}


def sleeping_clients(user: User, month: dt.date | None) -> QuerySet[SegmentSnapshot]:
    return (
        snapshots_for(user, month)
        .filter(lifecycle=Lifecycle.SLEEPING)
        .order_by("manager__username", "-revenue", "company__name")
    )


# --- lost and junk reasons ------------------------------------------------------------------


def _reasons_at_close(entries: list[StageChange], outcome: str) -> dict[int, int | None]:
    """The reason of each loss (or junking): the deal's own while it stays closed; for one
    revived since (reopening clears the reason) the reason the trail recorded at that
    moment, else the lost-deal review's."""
    field = "lost_reason_id" if outcome == Outcome.LOST else "junk_reason_id"
    out: dict[int, int | None] = {}
    revived = []
    for sc in entries:
        if sc.left_at is None:
            out[sc.pk] = getattr(sc.deal, field)
        else:
            revived.append(sc)
    if not revived:
        return out
    recorded: dict[tuple[str, dt.datetime], int] = {}
    for event in AuditEvent.objects.filter(
        object_type="crm.deal",
        object_id__in={str(sc.deal_id) for sc in revived},
        occurred_at__in={sc.at for sc in revived},
        action=AuditEvent.Action.UPDATE,
    ).only("object_id", "occurred_at", "changes"):
        change = (event.changes or {}).get(field)
        if isinstance(change, list) and len(change) == 2 and change[1]:
            recorded[(event.object_id, event.occurred_at)] = change[1]
    reviews = {}
    if outcome == Outcome.LOST:
        reviews = {
            (r.deal_id, r.lost_at): r.lost_reason_id
            for r in LostReview.objects.filter(deal__in={sc.deal_id for sc in revived})
        }
    for sc in revived:
        out[sc.pk] = recorded.get((str(sc.deal_id), sc.at)) or reviews.get((sc.deal_id, sc.at))
    return out


GROUPS = ("manager", "stage", "month")


def reasons(user: User, start: dt.datetime, end: dt.datetime, outcome: str, group: str) -> dict:
    """Losses (or junkings) in ``[start, end)`` by reason and by ``group`` (the owner at the
    time, the stage the deal left, or the month), with how many were revived since (the
    deal left the lost stage: reopened) and how many of those were won."""
    from funnelwatch.crm.models import JunkReason, LostReason

    entries = list(
        limit_to_owner(
            user,
            StageChange.objects.filter(to_stage__outcome=outcome, at__gte=start, at__lt=end),
        ).select_related("deal", "owner", "from_stage")
    )
    reason_of = _reasons_at_close(entries, outcome)
    model = LostReason if outcome == Outcome.LOST else JunkReason
    names = dict(model.objects.values_list("pk", "name"))
    tz = timezone.get_current_timezone()

    def label(sc: StageChange) -> str:
        if group == "manager":
            return str(sc.owner)
        if group == "stage":
            return str(sc.from_stage) if sc.from_stage_id else NONE
        return f"{local_date(sc.at, tz):%Y-%m}"

    def blank() -> dict:
        return {"count": 0, "revived": 0, "won": 0, "amount": Decimal("0")}

    table: dict[tuple[str, str], dict] = defaultdict(blank)
    by_reason: dict[str, dict] = defaultdict(blank)
    for sc in entries:
        reason = names.get(reason_of.get(sc.pk), NONE)
        for bucket in (table[(label(sc), reason)], by_reason[reason]):
            bucket["count"] += 1
            bucket["amount"] += sc.deal.amount
            if sc.left_at is not None:
                bucket["revived"] += 1
                if sc.deal.status == Outcome.WON:
                    bucket["won"] += 1

    def share(bucket: dict) -> dict:
        bucket["revived_pct"] = round(100 * bucket["revived"] / bucket["count"])
        return bucket

    return {
        "rows": [
            {"group": g, "reason": r, **share(v)}
            for (g, r), v in sorted(table.items(), key=lambda kv: (kv[0][0], -kv[1]["count"]))
        ],
        "reasons": [
            {"reason": r, **share(v)}
            for r, v in sorted(by_reason.items(), key=lambda kv: -kv[1]["count"])
        ],
        "total": len(entries),
    }
