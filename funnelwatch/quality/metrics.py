"""Conversation and review numbers per manager (block "quality").

Every point is credited to the call's manager on the local day the call started, so a
period's numbers describe the calls made in it (reviews written later still count
towards the week of the call).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.db.models import Case, Exists, OuterRef, QuerySet, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.lib.dates import Period, period_bounds
from funnelwatch.metrics.common import LocalDay, day_points
from funnelwatch.metrics.registry import Metric, Point, RecordShape, link_to, record_shape, register

Ids = set[int] | None
TALKATIVE = 0.65
_MANAGER = "recording__call__manager_id"
_STARTED = "recording__call__started_at"


def _bounds(period: Period):
    return period_bounds(period, timezone.get_current_timezone())


def analyses(period: Period, ids: Ids) -> QuerySet:
    from funnelwatch.quality.models import RecordingAnalysis

    start, end = _bounds(period)
    qs = RecordingAnalysis.objects.filter(
        status="ok",
        recording__call__started_at__gte=start,
        recording__call__started_at__lt=end,
        recording__call__manager__isnull=False,
    )
    return qs if ids is None else qs.filter(recording__call__manager_id__in=ids)


def _analysis_points(period: Period, ids: Ids) -> Iterator[tuple[int, object, float]]:
    """(manager, local day of the call, talk ratio) of analysed calls that say how the
    manager talks: flagged calls (silent, one-sided, noise) do not."""
    rows = (
        analyses(period, ids)
        .filter(talk_ratio__isnull=False, flagged=False)
        .annotate(day=LocalDay("recording__call__started_at", period))
        .order_by()
        .values_list("recording__call__manager_id", "day", "talk_ratio")
    )
    return iter(rows)


def talk_ratio(period: Period, ids: Ids) -> Iterator[Point]:
    # The ratios are floats: each is rounded as a point's value is, so they stay in Python.
    for manager_id, day, ratio in _analysis_points(period, ids):
        yield Point(manager_id, day, ratio, 1)


def talkative(period: Period, ids: Ids) -> list[Point]:
    qs = analyses(period, ids).filter(talk_ratio__isnull=False, flagged=False)
    over = Case(When(talk_ratio__gt=TALKATIVE, then=1), default=0)
    return day_points(qs, _MANAGER, _STARTED, period, over)


def flagged(period: Period, ids: Ids) -> list[Point]:
    hit = Case(When(flagged=True, then=1), default=0)
    return day_points(analyses(period, ids), _MANAGER, _STARTED, period, hit)


def queued(period: Period, ids: Ids) -> QuerySet:
    from funnelwatch.quality.models import Review, ReviewQueueItem

    start, end = _bounds(period)
    qs = ReviewQueueItem.objects.filter(call__started_at__gte=start, call__started_at__lt=end)
    qs = qs.annotate(reviewed=Exists(Review.objects.filter(call_id=OuterRef("call_id"))))
    return qs if ids is None else qs.filter(manager_id__in=ids)


def reviewed(period: Period, ids: Ids) -> list[Point]:
    done = Case(When(reviewed=True, then=1), default=0)
    return day_points(queued(period, ids), "manager_id", "call__started_at", period, done)


def reviews(period: Period, ids: Ids) -> QuerySet:
    from funnelwatch.quality.models import Review

    start, end = _bounds(period)
    qs = Review.objects.filter(
        call__started_at__gte=start, call__started_at__lt=end, score__isnull=False
    )
    if apps.is_installed("funnelwatch.skills"):
        # A mystery shopper's test call is scored apart (skills), not with the ordinary calls.
        qs = qs.filter(call__mystery__isnull=True)
    return qs if ids is None else qs.filter(manager_id__in=ids)


def review_score(period: Period, ids: Ids) -> Iterator[Point]:
    # Scores are floats: each is rounded as a point's value is, so they stay in Python.
    rows = (
        reviews(period, ids)
        .annotate(day=LocalDay("call__started_at", period))
        .order_by()
        .values_list("manager_id", "day", "score")
    )
    for manager_id, day, score in rows:
        yield Point(manager_id, day, score, 1)


register(
    Metric(
        "quality_talk_ratio",
        "quality",
        _("Manager talk ratio"),
        "pct",
        "mean",
        talk_ratio,
        good="none",
        records=analyses,
        description=_(
            "Manager speech / all speech on analysed stereo calls (top performers are near 43%)."
        ),
    )
)
register(
    Metric(
        "quality_talkative_share",
        "quality",
        _("Calls with over 65% manager talk"),
        "pct",
        "ratio",
        talkative,
        good="down",
        records=analyses,
    )
)
register(
    Metric(
        "quality_flagged_share",
        "quality",
        _("Flagged calls"),
        "pct",
        "ratio",
        flagged,
        good="down",
        records=analyses,
        description=_(
            "Share of analysed calls that were mostly silence or noise, too short, or one-sided."
        ),
    )
)
register(
    Metric(
        "quality_reviewed_share",
        "quality",
        _("Sampled calls reviewed"),
        "pct",
        "ratio",
        reviewed,
        good="up",
        records=queued,
    )
)
register(
    Metric(
        "quality_review_score",
        "quality",
        _("Mean review score"),
        "score",
        "mean",
        review_score,
        good="up",
        records=reviews,
    )
)


# --- drill-down lines: every quality number counts calls on the day they started ----------


def _shapes() -> None:
    from funnelwatch.quality.models import RecordingAnalysis, Review, ReviewQueueItem

    def call_of(path: str) -> dict:
        return {
            "when": (f"{path}.started_at",),
            "deal": f"{path}.deal",
            "contact": f"{path}.contact",
            "link": link_to("quality:call", f"{path}.pk"),
        }

    def ratio(a: RecordingAnalysis) -> str:
        flags = ", ".join(a.flag_labels())
        share = f"{a.talk_ratio * 100:.0f}%" if a.talk_ratio is not None else ""
        return " · ".join(part for part in (share, flags) if part)

    record_shape(
        RecordingAnalysis,
        RecordShape(
            **call_of("recording.call"),
            who="recording.call.manager",
            label=lambda a: a.recording.call,
            detail=ratio,
            related=(
                "recording__call__manager",
                "recording__call__deal",
                "recording__call__contact",
            ),
        ),
    )
    record_shape(
        Review,
        RecordShape(
            **call_of("call"),
            who="manager",
            label=lambda r: r.call,
            detail=lambda r: f"{r.score:.0f}%" if r.score is not None else "",
            related=("manager", "call__deal", "call__contact"),
        ),
    )
    record_shape(
        ReviewQueueItem,
        RecordShape(
            **call_of("call"),
            who="manager",
            label=lambda q: q.call,
            detail=lambda q: (
                q.get_reason_display()
                + (f" · {_('reviewed')}" if getattr(q, "reviewed", False) else "")
            ),
            related=("manager", "call__deal", "call__contact"),
        ),
    )


_shapes()
