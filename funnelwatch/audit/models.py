from __future__ import annotations

from django.conf import settings
from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _

from funnelwatch.lib.dates import shown


class AppendOnlyError(Exception):
    """Audit rows are never changed or removed by the product."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")

    def bulk_create(self, objs, *args, **kwargs):
        """Appended to the chain in the order given (see ``funnelwatch.audit.chain``);
        a row skipped or merged on conflict would leave a hole, so neither is offered."""
        from funnelwatch.audit import chain

        objs = list(objs)
        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            raise AppendOnlyError("audit events are appended, never merged or skipped")
        if any(obj.pk is not None for obj in objs):
            raise AppendOnlyError("audit events get their id from the database")
        if not objs:
            return objs
        with transaction.atomic(using=self.db, savepoint=False):
            chain.seal(objs, self.db)
            return super().bulk_create(objs, *args, **kwargs)


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
        DELETE = "delete", _("deleted")

    class Source(models.TextChoices):
        USER = "user", _("user")
        INTEGRATION = "integration", _("integration")
        SYSTEM = "system", _("system")

    # Set by the server when the event is appended (funnelwatch.audit.chain), never by the
    # caller; never earlier than the event before it.
    at = models.DateTimeField(_("recorded at"), db_index=True, editable=False)
    # When the change took effect: the same moment, or the time an import or the demo
    # states for history it writes. Metrics of activity count by this time.
    occurred_at = models.DateTimeField(_("when"), db_index=True)
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
    # The chain: SHA-256 of the previous event's hash and this event's content.
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"]),
            models.Index(fields=["actor", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{shown(self.at)} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        from funnelwatch.audit import chain

        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        using = kwargs.pop("using", None) or router.db_for_write(type(self), instance=self)
        kwargs.pop("force_insert", None)
        with transaction.atomic(using=using, savepoint=False):
            chain.seal([self], using)
            super().save(*args, force_insert=True, using=using, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    @property
    def recorded_later(self) -> bool:
        """Written into the trail more than a minute after it took effect (history an
        import or the demo wrote)."""
        return (self.at - self.occurred_at).total_seconds() > 60


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

    def delete(self, *args, **kwargs):
        raise ArchiveOnlyError(f"{self._meta.verbose_name} can only be archived")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None
