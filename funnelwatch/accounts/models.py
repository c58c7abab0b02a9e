from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited


class Role(models.TextChoices):
    HEAD = "head", _("Head of sales")
    TEAM_LEAD = "team_lead", _("Team lead")
    MANAGER = "manager", _("Sales manager")
    REVIEWER = "reviewer", _("Quality reviewer")
    ADMIN = "admin", _("Administrator")
    # Accounting, warehouse, legal…: sees only the hand-off requests addressed to their
    # department and the basics of those requests' deals (funnelwatch.handoffs).
    DEPARTMENT = "department", _("Department staff")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        "accounts.User",
        verbose_name=_("team lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MANAGER)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def sees_everything(self) -> bool:
        return self.is_superuser or self.role in (Role.HEAD, Role.ADMIN, Role.REVIEWER)

    @property
    def is_head(self) -> bool:
        return self.is_superuser or self.role in (Role.HEAD, Role.ADMIN)


class Extension(models.Model):
    """A PBX extension or direct number that rings this user (for matching calls)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="extensions")
    number = models.CharField(_("extension or number"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("phone extension")
        verbose_name_plural = _("phone extensions")

    def __str__(self) -> str:
        return self.number


class UserEmail(models.Model):
    """An address a manager writes from (for telling incoming from outgoing mail)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_addresses")
    email = models.EmailField(_("e-mail address"), unique=True)

    class Meta:
        verbose_name = _("e-mail address")
        verbose_name_plural = _("e-mail addresses")

    def __str__(self) -> str:
        return self.email


class Absence(models.Model):
    """A day a manager did not work (vacation, sick leave); alerts skip such days."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="absences")
    start = models.DateField(_("from"))
    end = models.DateField(_("until (inclusive)"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        ordering = ["-start"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")

    def __str__(self) -> str:
        return f"{self.user}: {self.start}–{self.end}"


class Holiday(models.Model):
    """A company-wide day off."""

    day = models.DateField(_("day"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.day} {self.name}"


@audited("digest", "last_used_at")
class ApiToken(models.Model):
    """A token for scripts calling the REST API; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return self.name
