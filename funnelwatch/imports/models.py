from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


@audited("progress", "preview", "report", "dry_report")
class ImportBatch(models.Model):
    """One import of one or more files: who, when, what came in, and whether it was undone."""

    class State(models.TextChoices):
        DRAFT = "draft", _("uploaded")
        CHECKING = "checking", _("dry run under way")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")
        UNDONE = "undone", _("undone")

    created_by = models.ForeignKey(
        USER, verbose_name=_("imported by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=20)
    file_names = models.JSONField(_("files"), default=list)
    # Where the page's uploads are kept (under the media folder), for the run.
    stored_files = models.JSONField(default=list, blank=True)
    encoding = models.CharField(_("encoding"), max_length=40, blank=True)
    mapping = models.JSONField(_("mapping"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # The full summary (rejected rows with their lines and values, warnings, owners).
    report = models.JSONField(default=dict, blank=True)
    dry_report = models.JSONField(default=dict, blank=True)
    # What the page shows before the run: each file's reader, encoding, first rows, and the
    # distinct stages and owners its columns hold.
    preview = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Local days and owners the import wrote history for (undo rebuilds the same days).
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    owner_ids = models.JSONField(default=list, blank=True)
    progress = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    undone_by = models.ForeignKey(
        USER, verbose_name=_("undone by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.format})"


class ImportedRecord(models.Model):
    """A record that came from a source: a rerun of the same source finds it here and
    updates it instead of creating it twice."""

    class Kind(models.TextChoices):
        DEAL = "deal", _("deal")
        COMPANY = "company", _("company")
        CONTACT = "contact", _("contact")

    source = models.CharField(_("source"), max_length=20)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    source_id = models.CharField(_("id in the source"), max_length=200)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="records")
    # The batch that last changed the record (the one that created it, at first).
    last_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    company = models.ForeignKey(
        "crm.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "source_id"], name="uniq_imported_record"
            ),
        ]
        indexes = [models.Index(fields=["batch", "kind"])]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.source_id}"


@audited()
class ImportPreset(models.Model):
    """A mapping saved from the import page, to use again for the next file."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    format = models.CharField(_("format"), max_length=20)
    mapping = models.JSONField(_("mapping"), default=dict)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("import preset")
        verbose_name_plural = _("import presets")

    def __str__(self) -> str:
        return self.name
