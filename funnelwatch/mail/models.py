"""Mailboxes read over IMAP and the letters kept from them (never deleted)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.models import Archivable
from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


class Security(models.TextChoices):
    SSL = "ssl", _("SSL/TLS")
    STARTTLS = "starttls", _("STARTTLS")
    NONE = "none", _("none (local networks only)")


@audited("password_encrypted", "last_sync_at", "last_error", "syncing_since")
class Mailbox(models.Model):
    """A manager's mailbox, or the one shared BCC mailbox the product reads."""

    user = models.ForeignKey(
        USER, verbose_name=_("manager"), on_delete=models.PROTECT, related_name="mailboxes"
    )
    host = models.CharField(_("IMAP host"), max_length=200)
    port = models.PositiveIntegerField(_("port"), default=993)
    login = models.CharField(_("login"), max_length=200)
    # Fernet token; the plain password is never stored, logged or shown.
    password_encrypted = models.TextField(editable=False)
    security = models.CharField(
        _("security"), max_length=10, choices=Security.choices, default=Security.SSL
    )
    # Comma-separated folder names; the first is the inbox, the others (sent...) follow.
    folders = models.CharField(_("folders"), max_length=500, default="INBOX,Sent")
    is_shared_bcc = models.BooleanField(
        _("shared BCC mailbox"),
        default=False,
        help_text=_("The address managers put in BCC; its letters are credited by sender."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    syncing_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user__username", "login"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        constraints = [
            models.UniqueConstraint(fields=["host", "port", "login"], name="uniq_mailbox_login"),
            models.UniqueConstraint(
                fields=["is_shared_bcc"],
                condition=models.Q(is_shared_bcc=True),
                name="one_shared_bcc_mailbox",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.login}@{self.host}"

    @property
    def folder_names(self) -> list[str]:
        return [f.strip() for f in self.folders.split(",") if f.strip()]

    def set_password(self, plain: str) -> None:
        from funnelwatch.mail.crypto import encrypt

        self.password_encrypted = encrypt(plain)

    def get_password(self) -> str:
        from funnelwatch.mail.crypto import decrypt

        return decrypt(self.password_encrypted)


class FolderState(models.Model):
    """Where the incremental sync of one folder stopped."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="folder_states")
    name = models.CharField(_("folder"), max_length=200)
    uidvalidity = models.BigIntegerField(_("UIDVALIDITY"), null=True, blank=True)
    last_uid = models.BigIntegerField(_("last UID"), default=0)
    highest_modseq = models.BigIntegerField(null=True, blank=True)
    messages_on_server = models.PositiveIntegerField(_("messages on the server"), default=0)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["mailbox", "name"]
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "name"], name="uniq_mailbox_folder"),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox} / {self.name}"


class Direction(models.TextChoices):
    IN = "in", _("incoming")
    OUT = "out", _("outgoing")


@audited("text_body", "html_body", "headers")
class Message(Archivable):
    """One letter, kept once however many mailboxes and folders it was seen in."""

    mailbox = models.ForeignKey(
        Mailbox,
        verbose_name=_("first seen in"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    # The normalised Message-ID (no angle brackets, domain lowercased); synthesised when absent.
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    message_id_synthesised = models.BooleanField(default=False)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    thread = models.CharField(_("thread"), max_length=255, db_index=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    subject_key = models.CharField(max_length=200, blank=True, db_index=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    from_addr = models.CharField(_("from"), max_length=254, blank=True, db_index=True)
    from_name = models.CharField(max_length=200, blank=True)
    to_addrs = models.TextField(_("to"), blank=True)  # comma-separated addresses
    cc_addrs = models.TextField(_("cc"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), db_index=True)
    headers = models.TextField(_("headers"), blank=True)
    text_body = models.TextField(_("text"), blank=True)
    html_body = models.TextField(_("HTML"), blank=True)
    size = models.PositiveIntegerField(_("size, bytes"), default=0)
    note = models.CharField(_("note"), max_length=500, blank=True)  # e.g. a skipped attachment
    owner = models.ForeignKey(
        USER,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mail_messages",
    )
    contact = models.ForeignKey(
        "crm.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mail_messages",
    )
    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mail_messages",
    )
    is_proposal = models.BooleanField(_("marked as proposal"), default=False)
    proposal = models.OneToOneField(
        "crm.Proposal", null=True, blank=True, on_delete=models.PROTECT, related_name="mail_message"
    )
    has_attachments = models.BooleanField(default=False)
    deleted_on_server = models.BooleanField(_("deleted on the server"), default=False)
    sent_from_crm = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("stored"), default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("letter")
        verbose_name_plural = _("letters")
        indexes = [
            models.Index(fields=["deal", "sent_at"]),
            models.Index(fields=["contact", "sent_at"]),
            models.Index(fields=["owner", "direction", "sent_at"]),
            models.Index(fields=["mailbox", "sent_at"]),
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id

    @property
    def to_list(self) -> list[str]:
        return [a for a in self.to_addrs.split(",") if a]


class MessageCopy(models.Model):
    """Where a letter sits on a server: one row per mailbox + folder + UIDVALIDITY + UID."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="copies")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="copies")
    folder = models.CharField(max_length=200)
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    flags = models.CharField(max_length=200, blank=True)
    deleted_on_server = models.BooleanField(default=False)
    seen_at = models.DateTimeField(default=timezone.now)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("copy on the server")
        verbose_name_plural = _("copies on the server")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "folder", "uidvalidity", "uid"], name="uniq_message_copy"
            ),
        ]
        indexes = [models.Index(fields=["mailbox", "folder", "deleted_on_server"])]

    def __str__(self) -> str:
        return f"{self.folder} UID {self.uid}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"mail/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size, bytes"), default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    file = models.FileField(upload_to=attachment_path, max_length=300, blank=True)
    skipped = models.BooleanField(_("not stored"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename
