"""Segments of the client base: one snapshot per company per month (the segment history).

Snapshots are derived from the won deals (``segments.compute``) and rewritten whole for a
month each time it is computed, so they are not audited row by row; each computation is
(``SegmentRun``), with who asked for it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from funnelwatch.audit.trail import audited
from funnelwatch.crm.models import money_field, money_in_range

USER = settings.AUTH_USER_MODEL


class Abc(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"


class Xyz(models.TextChoices):
    X = "X", "X"
    Y = "Y", "Y"
    Z = "Z", "Z"


class Lifecycle(models.TextChoices):
    POTENTIAL = "potential", pgettext_lazy("client lifecycle", "potential")
    NEW = "new", pgettext_lazy("client lifecycle", "new")
    ACTIVE = "active", pgettext_lazy("client lifecycle", "active")
    SLEEPING = "sleeping", pgettext_lazy("client lifecycle", "sleeping")
    LOST = "lost", pgettext_lazy("client lifecycle", "lost")


class SegmentSnapshot(models.Model):
    """A company's segments as of one day; one row per company and month."""

    company = models.ForeignKey(
        "crm.Company",
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="segment_snapshots",
    )
    month = models.DateField(_("month"))  # its first day
    as_of = models.DateField(_("as of"))
    # The client's manager: the company's owner, else the owner of its latest deal.
    manager = models.ForeignKey(
        USER,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revenue = money_field(_("won, 12 months"), default=0)
    wins = models.PositiveIntegerField(_("won deals, 12 months"), default=0)
    abc = models.CharField("ABC", max_length=1, choices=Abc.choices, blank=True)
    xyz = models.CharField("XYZ", max_length=1, choices=Xyz.choices, blank=True)
    variation = models.FloatField(_("coefficient of variation, %"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("days since the last win"), null=True, blank=True)
    r_score = models.PositiveSmallIntegerField("R", null=True, blank=True)
    f_score = models.PositiveSmallIntegerField("F", null=True, blank=True)
    m_score = models.PositiveSmallIntegerField("M", null=True, blank=True)
    lifecycle = models.CharField(_("lifecycle"), max_length=10, choices=Lifecycle.choices)
    first_win_at = models.DateTimeField(_("first win"), null=True, blank=True)
    last_win_at = models.DateTimeField(_("last win"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        ordering = ["-month", "company__name"]
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        constraints = [
            models.UniqueConstraint(fields=["company", "month"], name="uniq_segment_month"),
            models.CheckConstraint(
                condition=money_in_range("revenue"), name="segment_revenue_in_range"
            ),
        ]
        indexes = [
            models.Index(fields=["month", "abc", "xyz"]),
            models.Index(fields=["month", "manager"]),
            models.Index(fields=["month", "lifecycle"]),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.month:%Y-%m}: {self.abc}{self.xyz} {self.lifecycle}"

    @property
    def rfm(self) -> str:
        if self.r_score is None:
            return ""
        return f"{self.r_score}{self.f_score}{self.m_score}"


@audited()
class SegmentRun(models.Model):
    """One computation of the segments: by the nightly job (``by`` empty) or on demand."""

    as_of = models.DateField(_("as of"))
    month = models.DateField(_("month"))
    companies = models.PositiveIntegerField(_("companies"))
    by = models.ForeignKey(
        USER,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("segment computation")
        verbose_name_plural = _("segment computations")

    def __str__(self) -> str:
        return f"segments as of {self.as_of}"


@audited()
class WakeUp(models.Model):
    """A "wake up" call task set for a sleeping client, so a second one is not set while
    the first is open."""

    company = models.ForeignKey(
        "crm.Company", verbose_name=_("company"), on_delete=models.CASCADE, related_name="+"
    )
    task = models.OneToOneField(
        "crm.Task", verbose_name=_("task"), on_delete=models.CASCADE, related_name="+"
    )
    by = models.ForeignKey(USER, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("wake-up task")
        verbose_name_plural = _("wake-up tasks")

    def __str__(self) -> str:
        return f"{self.company_id}: task {self.task_id}"
