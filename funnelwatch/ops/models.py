"""What operations keep in the database: processes' heartbeats, the backups taken, and the
recording retention an administrator chose."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited


class Heartbeat(models.Model):
    """A background process saying it is alive: one row per process, rewritten every few
    seconds. A row whose beat is older than FUNNELWATCH_HEARTBEAT_STALE_SECONDS belongs to
    a process that stopped (or hangs)."""

    class Kind(models.TextChoices):
        WORKER = "worker", _("task worker")
        PERIODIC = "periodic", _("periodic jobs")

    kind = models.CharField(_("process"), max_length=20, choices=Kind.choices)
    process_id = models.CharField(_("process id"), max_length=120)
    host = models.CharField(_("host"), max_length=200, blank=True)
    pid = models.PositiveIntegerField(_("pid"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    beat_at = models.DateTimeField(_("last heartbeat"), default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)

    class Meta:
        ordering = ["kind", "-beat_at"]
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")
        constraints = [
            models.UniqueConstraint(fields=["kind", "process_id"], name="uniq_heartbeat_process")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.host}:{self.pid}"


class Backup(models.Model):
    """One run of ``funnelwatch backup`` (by hand or on schedule), kept for the status page.
    The archive itself lives in the backup folder; this row says what went into it."""

    class Trigger(models.TextChoices):
        COMMAND = "command", _("by hand")
        SCHEDULE = "schedule", _("on schedule")

    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    trigger = models.CharField(
        _("how it started"), max_length=10, choices=Trigger.choices, default=Trigger.COMMAND
    )
    archive = models.CharField(_("archive"), max_length=500, blank=True)
    bytes = models.BigIntegerField(_("size, bytes"), default=0)
    sha256 = models.CharField(_("checksum (SHA-256)"), max_length=64, blank=True)
    tables = models.JSONField(_("rows per table"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")

    def __str__(self) -> str:
        return self.archive.rsplit("/", 1)[-1] or f"backup {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def ok(self) -> bool:
        return bool(self.finished_at) and not self.error


@audited()
class RecordingRetention(models.Model):
    """How long call recordings are kept (one row). Only an administrator changes it, and
    every change is in the audit trail; the calls themselves are always kept."""

    months = models.PositiveSmallIntegerField(
        _("keep recordings for (months)"),
        null=True,
        blank=True,
        help_text=_("Empty: keep recordings for ever."),
    )
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("recording retention")
        verbose_name_plural = _("recording retention")

    def __str__(self) -> str:
        return f"{self.months} months" if self.months else "for ever"

    @classmethod
    def current(cls) -> RecordingRetention:
        return cls.objects.order_by("pk").first() or cls(months=None)
