"""Daily rollups: one narrow row per (metric, manager, local day).

``DailyValue`` keeps sums, and numerators/denominators for ratios and means, so any
period's value is exact; ``DailySample`` keeps every sample of a median metric.
Both are derived data: ``funnelwatch rollups rebuild`` recreates them from raw records.
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
        indexes = [models.Index(fields=["manager", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} #{self.manager_id}: {self.value}/{self.weight}"


class DailySample(models.Model):
    metric = models.CharField(_("metric"), max_length=60)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    value = models.FloatField(_("value"))

    class Meta:
        verbose_name = _("daily sample")
        verbose_name_plural = _("daily samples")
        indexes = [
            models.Index(fields=["metric", "day", "manager"]),
            models.Index(fields=["manager", "day"]),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} #{self.manager_id}: {self.value}"
