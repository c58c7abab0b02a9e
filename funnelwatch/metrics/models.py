"""Daily rollups: one narrow row per (metric, manager, local day).

``DailyValue`` keeps sums, and numerators/denominators for ratios and means, so any
period's value is exact; ``DailySample`` keeps every sample of a median metric, equal
samples of a manager's day as one row with their count (so the period median is the
median of the multiset, exact). ``WeeklyValue`` and ``WeeklySample`` hold the same per
week. All are derived data: ``funnelwatch rollups rebuild`` recreates them from raw records.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyValue(models.Model):
    metric = models.CharField(_("metric"), max_length=60)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=4)
    weight = models.DecimalField(_("weight"), max_digits=24, decimal_places=4)

    class Meta:
        verbose_name = _("daily value")
        verbose_name_plural = _("daily values")
        constraints = [
            models.UniqueConstraint(fields=["metric", "day", "manager"], name="uniq_daily_value"),
        ]
        indexes = [
            models.Index(fields=["manager", "day"]),
            # Covers the period sums, so they read the index alone.
            models.Index(
                fields=["metric", "day", "manager", "value", "weight"], name="dailyvalue_covering"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} #{self.manager_id}: {self.value}/{self.weight}"


class WeeklyValue(models.Model):
    """``DailyValue`` summed per week (Monday to Sunday), so a month reads ~4 rows, not 30.

    Derived from ``DailyValue`` whenever those rows are rewritten.
    """

    metric = models.CharField(_("metric"), max_length=60)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    week = models.DateField(_("week (Monday)"))
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=4)
    weight = models.DecimalField(_("weight"), max_digits=24, decimal_places=4)

    class Meta:
        verbose_name = _("weekly value")
        verbose_name_plural = _("weekly values")
        constraints = [
            models.UniqueConstraint(fields=["metric", "week", "manager"], name="uniq_weekly_value"),
        ]
        indexes = [
            models.Index(
                fields=["metric", "week", "manager", "value", "weight"], name="weeklyvalue_covering"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.metric} #{self.manager_id}: {self.value}/{self.weight}"


class DailySample(models.Model):
    """Samples of a median metric: ``count`` samples equal to ``value``."""

    metric = models.CharField(_("metric"), max_length=60)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    value = models.FloatField(_("value"))
    count = models.PositiveIntegerField(_("count"), default=1)

    class Meta:
        verbose_name = _("daily sample")
        verbose_name_plural = _("daily samples")
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "day", "manager", "value"], name="uniq_daily_sample"
            ),
        ]
        indexes = [
            # Covers the period medians, so they read the index alone.
            models.Index(
                fields=["metric", "day", "manager", "value", "count"], name="dailysample_covering"
            ),
            models.Index(fields=["manager", "day"]),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} #{self.manager_id}: {self.value} ×{self.count}"


class WeeklySample(models.Model):
    """``DailySample`` merged per week (Monday to Sunday): a month's median reads the
    distinct samples of ~4 weeks, not of 30 days."""

    metric = models.CharField(_("metric"), max_length=60)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    week = models.DateField(_("week (Monday)"))
    value = models.FloatField(_("value"))
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("weekly sample")
        verbose_name_plural = _("weekly samples")
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "week", "manager", "value"], name="uniq_weekly_sample"
            ),
        ]
        indexes = [
            models.Index(
                fields=["metric", "week", "manager", "value", "count"],
                name="weeklysample_covering",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.metric} #{self.manager_id}: {self.value} ×{self.count}"


class RollupStamp(models.Model):
    """A token per local day, replaced whenever that day's rollup rows are rewritten.

    Answers read from the rollups for a period are reused (``FUNNELWATCH_ROLLUP_CACHE_SECONDS``)
    only while the tokens of the period's days are the ones they were read under, so a
    reused answer is never older than the rows it came from.
    """

    day = models.DateField(_("day"), primary_key=True)
    token = models.BigIntegerField(_("token"))

    class Meta:
        verbose_name = _("rollup stamp")
        verbose_name_plural = _("rollup stamps")

    def __str__(self) -> str:
        return f"{self.day}: {self.token}"


class DirtyDay(models.Model):
    """A (manager, local day) whose rollups a change made stale, waiting for the worker
    (``refresh.background``); ``keys``: the metrics to recompute, comma-separated, or
    ``*`` for all. One row per change: the worker recomputes each pair once however many
    rows name it, and deletes only the rows it read, so a change stored while it works
    is recomputed by its next run."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    keys = models.TextField(_("metric keys"))

    class Meta:
        verbose_name = _("stale rollup day")
        verbose_name_plural = _("stale rollup days")

    def __str__(self) -> str:
        return f"{self.day} #{self.manager_id}: {self.keys}"
