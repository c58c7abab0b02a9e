from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


class Kind(models.TextChoices):
    ACTIVITY_DROP = "activity_drop", _("Activity drop")
    STALLED_DEAL = "stalled_deal", _("Stalled deal")
    LEAD_NOT_CALLED = "lead_not_called", _("Lead not called")
    MISSED_CALL_NOT_RETURNED = "missed_call_not_returned", _("Missed call not returned")
    MEETING_WITHOUT_PROPOSAL = "meeting_without_proposal", _("Meeting without proposal")
    PLAN_AT_RISK = "plan_at_risk", _("Plan at risk")
    CRM_HYGIENE = "crm_hygiene", _("CRM hygiene")
    A_CLIENT_SLEEPING = "a_client_sleeping", _("A client sleeping")
    HANDOFF_OVERDUE = "handoff_overdue", _("Hand-off past due")


class Status(models.TextChoices):
    OPEN = "open", _("open")
    SNOOZED = "snoozed", _("snoozed")
    RESOLVED = "resolved", _("resolved")


@audited()
class RuleSettings(models.Model):
    """Thresholds of the alert rules; the row without a team is the company default."""

    team = models.OneToOneField(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_settings",
    )
    activity_drop_pct = models.PositiveSmallIntegerField(
        _("activity drop, %"),
        default=30,
        help_text=_("Fire when the last 5 working days are this much below the usual."),
    )
    activity_mad_k = models.FloatField(
        _("activity drop, robust deviations"),
        default=2.0,
        help_text=_("...and the shortfall is this many robust deviations of a 5-day total."),
    )
    activity_min_usual = models.FloatField(
        _("activity drop, minimum usual per day"),
        default=2.0,
        help_text=_("Metrics a manager usually does less of per day are not watched."),
    )
    meeting_proposal_days = models.PositiveSmallIntegerField(
        _("days from a meeting to a proposal"), default=3
    )
    hygiene_deals_without_task = models.PositiveSmallIntegerField(
        _("open deals without a next step allowed"), default=3
    )
    hygiene_overdue_tasks = models.PositiveSmallIntegerField(_("overdue tasks allowed"), default=5)
    lookback_days = models.PositiveSmallIntegerField(
        _("days of leads, calls and meetings checked"), default=14
    )

    class Meta:
        verbose_name = _("alert thresholds")
        verbose_name_plural = _("alert thresholds")

    def __str__(self) -> str:
        return str(self.team) if self.team_id else str(_("Company default"))


class Alert(models.Model):
    """One warning about one cause; a cause has at most one alert that is not resolved."""

    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices, db_index=True)
    manager = models.ForeignKey(
        USER,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    cause_key = models.CharField(_("cause"), max_length=200)
    numbers = models.JSONField(_("numbers"), default=dict)
    message = models.TextField(_("message"))
    opened_at = models.DateTimeField(_("opened"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["cause_key"],
                condition=Q(resolved_at__isnull=True),
                name="uniq_unresolved_alert_cause",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind"]),
            models.Index(fields=["manager", "status"]),
        ]

    def __str__(self) -> str:
        return self.message


@audited()
class DealSnooze(models.Model):
    """The head's decision that a stalled deal may wait ("waiting for the tender")."""

    deal = models.ForeignKey(
        "crm.Deal", verbose_name=_("deal"), on_delete=models.CASCADE, related_name="snoozes"
    )
    until = models.DateField(_("until (inclusive)"))
    reason = models.CharField(_("reason"), max_length=300)
    by = models.ForeignKey(USER, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-until"]
        verbose_name = _("snoozed deal")
        verbose_name_plural = _("snoozed deals")

    def __str__(self) -> str:
        return f"{self.deal_id} until {self.until}"


@audited()
class LostReview(models.Model):
    class Decision(models.TextChoices):
        KEEP_LOST = "keep_lost", _("keep lost")
        RETURNED = "returned", _("returned to the funnel")

    deal = models.ForeignKey(
        "crm.Deal", verbose_name=_("deal"), on_delete=models.CASCADE, related_name="lost_reviews"
    )
    # The loss reviewed (a deal lost twice is reviewed twice).
    lost_at = models.DateTimeField(_("lost at"))
    lost_reason = models.ForeignKey(
        "crm.LostReason",
        verbose_name=_("lost reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    owner = models.ForeignKey(
        USER, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        USER, verbose_name=_("reviewed by"), on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), default=timezone.now)
    task = models.ForeignKey(
        "crm.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-lost_at"]
        verbose_name = _("lost-deal review")
        verbose_name_plural = _("lost-deal reviews")
        constraints = [
            models.UniqueConstraint(fields=["deal", "lost_at"], name="uniq_lost_review"),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.decision}"


class DigestCopy(models.Model):
    """The in-app copy of a digest, and the sent-log: one per (kind, day, recipient)."""

    class DigestKind(models.TextChoices):
        DAILY = "daily", _("evening digest")
        WEEKLY = "weekly", _("weekly report")

    kind = models.CharField(_("kind"), max_length=10, choices=DigestKind.choices)
    day = models.DateField(_("day"))
    recipient = models.ForeignKey(
        USER, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="digests"
    )
    subject = models.CharField(_("subject"), max_length=200)
    text = models.TextField(_("plain text"))
    html = models.TextField(_("HTML"))
    # The rows as shown (one per manager), so a manager can see their row in anyone's copy.
    rows = models.JSONField(_("rows"), default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)
    error = models.TextField(_("sending error"), blank=True)

    class Meta:
        ordering = ["-day", "kind", "recipient"]
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        constraints = [
            models.UniqueConstraint(fields=["kind", "day", "recipient"], name="uniq_digest_sent"),
        ]

    def __str__(self) -> str:
        return self.subject
