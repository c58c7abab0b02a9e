"""Hand-offs inside the company, calendar feeds, notification choices, agreed actions.

A hand-off is a request from a deal to another department (accounting: an invoice or a
contract; warehouse: readiness; legal: a review; any department configured), due within
the department's working hours. Its life: requested → taken → done, or returned with a
reason (from requested or taken). Every change is in the audit trail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


@audited()
class Department(models.Model):
    """A department that receives requests (accounting, warehouse, legal…)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    head = models.ForeignKey(
        USER,
        verbose_name=_("department head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    members = models.ManyToManyField(
        USER, verbose_name=_("members"), blank=True, related_name="departments"
    )
    sla_minutes = models.PositiveIntegerField(
        _("working minutes to finish a request"),
        default=120,
        help_text=_("The due time of a new request, counted in working hours."),
    )
    active = models.BooleanField(_("takes requests"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    def is_staff_member(self, user: models.Model) -> bool:
        """The department head and its members work on its requests."""
        if user.pk == self.head_id:
            return True
        return self.members.filter(pk=user.pk).exists()


class Kind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CONTRACT = "contract", _("Contract")
    READINESS = "readiness", _("Readiness of goods")
    LEGAL = "legal", _("Legal review")
    OTHER = "other", _("Other")


class State(models.TextChoices):
    REQUESTED = "requested", _("requested")
    TAKEN = "taken", _("taken")
    DONE = "done", _("done")
    RETURNED = "returned", _("returned")


OPEN_STATES = (State.REQUESTED, State.TAKEN)


@audited()
class Handoff(models.Model):
    deal = models.ForeignKey(
        "crm.Deal", verbose_name=_("deal"), on_delete=models.PROTECT, related_name="handoffs"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="requests",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    text = models.TextField(_("what is needed"), max_length=2000)
    requester = models.ForeignKey(
        USER, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        USER,
        verbose_name=_("taken by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.REQUESTED, db_index=True
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now, db_index=True)
    due_at = models.DateTimeField(_("due"), db_index=True)
    taken_at = models.DateTimeField(_("taken at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("done or returned at"), null=True, blank=True)
    return_reason = models.CharField(_("reason for returning"), max_length=500, blank=True)
    # Working minutes, set at each step (the KPIs sum them in the database).
    take_minutes = models.FloatField(_("working minutes to take"), null=True, blank=True)
    done_minutes = models.FloatField(_("working minutes to finish"), null=True, blank=True)
    within_sla = models.BooleanField(_("finished by the due time"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("hand-off request")
        verbose_name_plural = _("hand-off requests")
        indexes = [models.Index(fields=["department", "state"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="requested") | Q(taken_at__isnull=False) | Q(state="returned"),
                name="handoff_taken_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="returned") | ~Q(return_reason=""),
                name="handoff_returned_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.deal.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@audited()
class CalendarFeed(models.Model):
    """The version of a user's secret calendar address: revoking bumps it, and every
    address made with an older version stops working (the token is an HMAC of the user
    and the version, so no secret is stored)."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="calendar_feed")
    version = models.PositiveIntegerField(default=1)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"{self.user} v{self.version}"


@audited()
class NotificationChoice(models.Model):
    """Where a user receives alerts and digests: e-mail, Telegram, or both."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="notification_choice")
    by_email = models.BooleanField(_("by e-mail"), default=True)
    by_telegram = models.BooleanField(_("by Telegram"), default=False)
    telegram_chat_id = models.CharField(
        _("Telegram chat id"),
        max_length=32,
        blank=True,
        help_text=_("The chat the bot writes to: your numeric id (send /start to the bot)."),
    )

    class Meta:
        verbose_name = _("notification choice")
        verbose_name_plural = _("notification choices")

    def __str__(self) -> str:
        return str(self.user)


@audited()
class AgreedAction(models.Model):
    """An action agreed at the weekly planning meeting; it becomes a task."""

    week = models.DateField(_("week of"), db_index=True)  # the Monday of the meeting's week
    task = models.OneToOneField(
        "crm.Task", on_delete=models.PROTECT, related_name="agreed_at_meeting"
    )
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["week", "created_at"]
        verbose_name = _("agreed action")
        verbose_name_plural = _("agreed actions")

    def __str__(self) -> str:
        return str(self.task)


class NoticeSent(models.Model):
    """An alert sent to one person (so each alert reaches each person once)."""

    alert = models.ForeignKey("alerts.Alert", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    channels = models.CharField(max_length=40, blank=True)  # "email,telegram"
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="uniq_notice_alert_user")
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} → user {self.user_id}"


@audited()
class ClickToCall(models.Model):
    """A call the PBX was asked to make: the manager's extension first, then the client."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    extension = models.CharField(max_length=40)
    number = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("click-to-call")
        verbose_name_plural = _("click-to-calls")

    def __str__(self) -> str:
        return f"{self.extension} → {self.number}"
