"""Read side of the quality app; every queryset is narrowed by who is looking."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from itertools import combinations
from statistics import mean

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import limit_to_owner
from funnelwatch.quality.models import ExemplaryCall, Review, ReviewAnswer, ReviewQueueItem

REVIEWER_ROLES = (Role.HEAD, Role.ADMIN, Role.REVIEWER, Role.TEAM_LEAD)
REPORT_ROLES = (Role.HEAD, Role.ADMIN, Role.TEAM_LEAD)


def can_review(user: User) -> bool:
    return user.is_superuser or user.role in REVIEWER_ROLES


def can_see_report(user: User) -> bool:
    return user.is_superuser or user.role in REPORT_ROLES


def calls_for(user: User) -> QuerySet:
    from funnelwatch.telephony.models import Call

    return limit_to_owner(user, Call.objects.all(), "manager")


def call_for_page(user: User, call_id: int):
    """The call if ``user`` may open it: their visibility, or it is in the library."""
    from funnelwatch.telephony.models import Call

    related = ("manager", "recording", "recording__analysis", "contact", "exemplary")
    call = calls_for(user).select_related(*related).filter(pk=call_id).first()
    if call is None:
        call = (
            Call.objects.select_related(*related)
            .filter(pk=call_id, exemplary__isnull=False)
            .first()
        )
    return call


def queue(user: User, week: dt.date | None = None) -> QuerySet:
    reviewed = Review.objects.filter(call_id=OuterRef("call_id"))
    qs = ReviewQueueItem.objects.select_related(
        "manager", "call", "call__recording", "call__recording__analysis"
    ).annotate(reviewed=Exists(reviewed))
    if week:
        qs = qs.filter(week=week)
    return limit_to_owner(user, qs, "manager").order_by("reviewed", "-week", "manager_id", "id")


def reviews_for(user: User) -> QuerySet:
    qs = Review.objects.select_related("manager", "reviewer", "call", "checklist")
    return limit_to_owner(user, qs, "manager")


def library(stage: str | None = None) -> list[ExemplaryCall]:
    qs = ExemplaryCall.objects.select_related(
        "call", "call__manager", "added_by", "call__recording__analysis"
    )
    items = list(qs)
    if stage:
        items = [i for i in items if stage in i.stages]
    return items


def report(user: User, since: dt.date) -> dict:
    """Scores by manager per week and by criterion, and inter-reviewer agreement."""
    reviews = list(
        reviews_for(user)
        .filter(created_at__date__gte=since)
        .values("id", "call_id", "manager_id", "reviewer_id", "score", "created_at")
    )
    managers = {u.pk: u for u in User.objects.filter(pk__in={r["manager_id"] for r in reviews})}
    by_week: dict[int, dict[dt.date, list[float]]] = defaultdict(lambda: defaultdict(list))
    week_of = {}
    for r in reviews:
        day = timezone.localtime(r["created_at"]).date()
        week_of[r["id"]] = day - dt.timedelta(days=day.weekday())
    for r in reviews:
        if r["score"] is not None:
            by_week[r["manager_id"]][week_of[r["id"]]].append(r["score"])
    weeks = sorted({w for per in by_week.values() for w in per})
    score_rows = [
        {
            "manager": managers[mid],
            "cells": [round(mean(per[w]), 1) if per.get(w) else None for w in weeks],
            "overall": round(mean([s for v in per.values() for s in v]), 1),
        }
        for mid, per in sorted(by_week.items(), key=lambda kv: str(managers[kv[0]]))
    ]
    answers = ReviewAnswer.objects.filter(
        review_id__in=[r["id"] for r in reviews], score__isnull=False
    ).values(
        "criterion_id",
        "criterion__text",
        "criterion__stage",
        "review__manager_id",
        "score",
        "review_id",
        "value",
    )
    crit: dict[int, dict] = {}
    for a in answers:
        row = crit.setdefault(
            a["criterion_id"],
            {
                "text": a["criterion__text"],
                "stage": a["criterion__stage"],
                "scores": defaultdict(list),
            },
        )
        row["scores"][a["review__manager_id"]].append(a["score"])
        row.setdefault("weeks", defaultdict(list))[week_of[a["review_id"]]].append(a["score"])
    manager_ids = [row["manager"].pk for row in score_rows]
    criterion_rows = [
        {
            "text": row["text"],
            "stage": row["stage"],
            "cells": [
                round(100 * mean(row["scores"][m]), 0) if row["scores"].get(m) else None
                for m in manager_ids
            ],
            "week_cells": [
                round(100 * mean(row["weeks"][w]), 0) if row["weeks"].get(w) else None
                for w in weeks
            ],
        }
        for row in crit.values()
    ]
    # Agreement: calls scored by two or more reviewers.
    by_call: dict[int, list[dict]] = defaultdict(list)
    for r in reviews:
        by_call[r["call_id"]].append(r)
    answer_map: dict[int, dict[int, str]] = defaultdict(dict)
    shared = [c for c, rs in by_call.items() if len(rs) > 1]
    if shared:
        for a in ReviewAnswer.objects.filter(review__call_id__in=shared).values(
            "review_id", "criterion_id", "value"
        ):
            answer_map[a["review_id"]][a["criterion_id"]] = a["value"]
    pairs = []
    for call_id in shared:
        for a, b in combinations(by_call[call_id], 2):
            ma, mb = answer_map[a["id"]], answer_map[b["id"]]
            # criteria at least one of them answered (both "n/a" says nothing)
            common = {c for c in set(ma) & set(mb) if ma[c] or mb[c]}
            same = sum(1 for c in common if ma[c] == mb[c])
            diff = (
                abs(a["score"] - b["score"])
                if a["score"] is not None and b["score"] is not None
                else None
            )
            pairs.append(
                {
                    "call_id": call_id,
                    "a": a["reviewer_id"],
                    "b": b["reviewer_id"],
                    "score_diff": diff,
                    "same_answers": round(100 * same / len(common)) if common else None,
                }
            )
    diffs = [p["score_diff"] for p in pairs if p["score_diff"] is not None]
    same = [p["same_answers"] for p in pairs if p["same_answers"] is not None]
    reviewers = {
        u.pk: u
        for u in User.objects.filter(pk__in={p["a"] for p in pairs} | {p["b"] for p in pairs})
    }
    for p in pairs:
        p["a"], p["b"] = reviewers.get(p["a"]), reviewers.get(p["b"])
    return {
        "weeks": weeks,
        "score_rows": score_rows,
        "managers": [row["manager"] for row in score_rows],
        "criterion_rows": criterion_rows,
        "pairs": pairs,
        "agreement": {
            "pairs": len(pairs),
            "mean_score_diff": round(mean(diffs), 1) if diffs else None,
            "same_answers_pct": round(mean(same)) if same else None,
        },
    }
