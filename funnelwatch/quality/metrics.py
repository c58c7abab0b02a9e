"""Conversation and review numbers per manager (block "quality").

Every point is credited to the call's manager on the local day the call started, so a
period's numbers describe the calls made in it (reviews written later still count
towards the week of the call).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.lib.dates import Period, period_bounds
from funnelwatch.metrics.registry import Metric, Point, register

Ids = set[int] | None
TALKATIVE = 0.65


def _bounds(period: Period):  # noqa: ANN202
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


def _analysis_points(period: Period, ids: Ids, value) -> Iterator[Point]:  # noqa: ANN001
    tz = timezone.get_current_timezone()
    rows = analyses(period, ids).values_list(
        "recording__call__manager_id", "recording__call__started_at", "talk_ratio", "flagged"
    )
    for manager_id, started, talk_ratio, flagged in rows:
        point = value(talk_ratio, flagged)
        if point is not None:
            yield Point(manager_id, started.astimezone(tz).date(), point[0], point[1])


def talk_ratio(period: Period, ids: Ids) -> Iterator[Point]:
    # Flagged calls (silent, one-sided, noise) say nothing about how a manager talks.
    return _analysis_points(period, ids, lambda r, f: None if r is None or f else (r, 1))


def talkative(period: Period, ids: Ids) -> Iterator[Point]:
    return _analysis_points(
        period, ids, lambda r, f: None if r is None or f else (1 if r > TALKATIVE else 0, 1)
    )


def flagged(period: Period, ids: Ids) -> Iterator[Point]:
    return _analysis_points(period, ids, lambda r, f: (1 if f else 0, 1))


def queued(period: Period, ids: Ids) -> QuerySet:
    from funnelwatch.quality.models import Review, ReviewQueueItem

    start, end = _bounds(period)
    qs = ReviewQueueItem.objects.filter(call__started_at__gte=start, call__started_at__lt=end)
    qs = qs.annotate(reviewed=Exists(Review.objects.filter(call_id=OuterRef("call_id"))))
    return qs if ids is None else qs.filter(manager_id__in=ids)


def reviewed(period: Period, ids: Ids) -> Iterator[Point]:
    tz = timezone.get_current_timezone()
    for manager_id, started, done in queued(period, ids).values_list(
        "manager_id", "call__started_at", "reviewed"
    ):
        yield Point(manager_id, started.astimezone(tz).date(), 1 if done else 0, 1)


def reviews(period: Period, ids: Ids) -> QuerySet:
    from funnelwatch.quality.models import Review

    start, end = _bounds(period)
    qs = Review.objects.filter(
        call__started_at__gte=start, call__started_at__lt=end, score__isnull=False
    )
    return qs if ids is None else qs.filter(manager_id__in=ids)


def review_score(period: Period, ids: Ids) -> Iterator[Point]:
    tz = timezone.get_current_timezone()
    for manager_id, started, score in reviews(period, ids).values_list(
        "manager_id", "call__started_at", "score"
    ):
        yield Point(manager_id, started.astimezone(tz).date(), score, 1)


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
