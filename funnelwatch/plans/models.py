from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited
from funnelwatch.core.params import validate_day_range


@audited()
class Plan(models.Model):
    """A SMART sales plan: a specific result (title), measured by one metric with a target,
    achievable (the note shows the baseline it was set against), relevant (why), and
    time-bound (first to last day). For a manager, a team, or the whole department."""

    title = models.CharField(_("what is to be achieved"), max_length=200)
    metric = models.CharField(_("measured by"), max_length=60, default="won_amount")
    # 15 digits, as money in crm.models: SQLite keeps 15 significant digits.
    target = models.DecimalField(_("target"), max_digits=15, decimal_places=2)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plans",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plans",
    )
    first_day = models.DateField(_("from"), validators=[validate_day_range])
    last_day = models.DateField(_("until (inclusive)"), validators=[validate_day_range])
    relevance = models.TextField(_("why it matters"), blank=True)
    achievable_note = models.TextField(_("why it is achievable"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-first_day", "title"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")),
                name="plan_ends_after_it_starts",
            ),
            models.CheckConstraint(condition=models.Q(target__gt=0), name="plan_target_positive"),
            models.CheckConstraint(
                condition=models.Q(manager__isnull=True) | models.Q(team__isnull=True),
                name="plan_for_manager_or_team",
            ),
        ]
        indexes = [models.Index(fields=["metric", "first_day", "last_day"])]

    def __str__(self) -> str:
        return self.title

    @property
    def end(self) -> dt.date:
        """The first day after the plan (periods are half-open)."""
        return self.last_day + dt.timedelta(days=1)

    @property
    def metric_label(self) -> str:
        """The measure as the key-numbers table names it (the key if it is no metric)."""
        from funnelwatch.metrics import registry

        try:
            return str(registry.get(self.metric).label)
        except KeyError:
            return self.metric

    @property
    def scope_label(self) -> str:
        if self.manager_id:
            return str(self.manager)
        if self.team_id:
            return str(self.team)
        return str(_("Whole department"))


@audited()
class PlanStep(models.Model):
    """A step of a SMART plan: what is done, with which resources, by whom, by when, and
    how far it has come."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    title = models.CharField(_("step"), max_length=200)
    resources = models.CharField(_("resources"), max_length=300, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="plan_steps",
    )
    due_date = models.DateField(_("due"), validators=[validate_day_range])
    progress_pct = models.PositiveSmallIntegerField(_("progress, %"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["plan", "due_date", "id"]
        verbose_name = _("plan step")
        verbose_name_plural = _("plan steps")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress_pct__lte=100), name="plan_step_progress_pct"
            )
        ]

    def __str__(self) -> str:
        return self.title
