from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.lib.dates import shown


class AppendOnlyError(Exception):
    """Audit rows are never changed or removed by the product."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ANN003
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        ARCHIVE = "archive", _("archived")
        UNARCHIVE = "unarchive", _("restored from archive")
        VIEW = "view", _("viewed")
        PLAY = "play", _("played")
        DOWNLOAD = "download", _("downloaded")
        EXPORT = "export", _("exported")
        LOCKOUT = "lockout", _("locked out")

    class Source(models.TextChoices):
        USER = "user", _("user")
        INTEGRATION = "integration", _("integration")
        SYSTEM = "system", _("system")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    # e.g. "zadarma webhook" or "demo generator" when the actor is not a person
    source_name = models.CharField(_("source name"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    object_type = models.CharField(_("record type"), max_length=60)  # "crm.deal"
    object_id = models.CharField(_("record id"), max_length=40)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    # {"field": [before, after]} for updates, {"field": value} for creates
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"]),
            models.Index(fields=["actor", "at"]),
        ]

    def __str__(self) -> str:
        return f"{shown(self.at)} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise AppendOnlyError("audit events cannot be deleted")


class ArchiveOnlyError(Exception):
    """Communications and notes are archived, never deleted by users."""


class ArchivableQuerySet(models.QuerySet):
    def delete(self):
        raise ArchiveOnlyError("these records can only be archived")

    def active(self):
        return self.filter(archived_at__isnull=True)


class Archivable(models.Model):
    """A record users may archive but never delete; archiving is audited like any change."""

    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("archived by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = ArchivableQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise ArchiveOnlyError(f"{self._meta.verbose_name} can only be archived")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None
