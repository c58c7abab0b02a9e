"""Where each lead came from, the channels leads arrive through, and the conversations
held in messengers.

A lead is a CRM deal (``crm.Deal``); :class:`LeadOrigin` is its one origin record: the
kind of source, the web form or bot, the UTM fields and the employee who passed it on.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


class SourceKind(models.TextChoices):
    WEB_FORM = "web_form", _("web form")
    CALL = "call", _("call")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    EMAIL = "email", _("e-mail")
    IMPORT = "import", _("import")
    MANUAL = "manual", _("manual")


UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def new_key() -> str:
    return secrets.token_urlsafe(16)


@audited()
class WebForm(models.Model):
    """One form on one site: submissions to ``/f/<key>/`` become leads."""

    name = models.CharField(_("name"), max_length=100)
    key = models.CharField(_("key"), max_length=40, unique=True, default=new_key)
    # Sites allowed to post (``https://example.com``), one a line; empty: any.
    allowed_origins = models.TextField(_("allowed origins"), blank=True)
    # Where a browser goes after a successful submission (a thank-you page).
    thank_you_url = models.URLField(_("thank-you page"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")

    def __str__(self) -> str:
        return self.name

    def origins(self) -> list[str]:
        return [o.strip().rstrip("/").lower() for o in self.allowed_origins.split() if o.strip()]


@audited("token", "webhook_secret")
class TelegramBot(models.Model):
    """The company's Telegram bot: messages to it become leads and conversations."""

    name = models.CharField(_("name"), max_length=100)
    username = models.CharField(_("bot username"), max_length=100, blank=True)
    # Encrypted at rest like mailbox passwords (funnelwatch.mail.crypto).
    token = models.CharField(_("token"), max_length=500)
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token with every update.
    webhook_secret = models.CharField(max_length=64, default=new_key)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Telegram bot")
        verbose_name_plural = _("Telegram bots")

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else self.name

    def set_token(self, plain: str) -> None:
        from funnelwatch.mail import crypto

        self.token = crypto.encrypt(plain)

    def plain_token(self) -> str:
        from funnelwatch.mail import crypto

        return crypto.decrypt(self.token)


@audited()
class LeadOrigin(models.Model):
    deal = models.OneToOneField(
        "crm.Deal", verbose_name=_("deal"), on_delete=models.CASCADE, related_name="origin"
    )
    kind = models.CharField(
        _("source"), max_length=20, choices=SourceKind.choices, default=SourceKind.MANUAL
    )
    form = models.ForeignKey(
        WebForm, verbose_name=_("web form"), null=True, blank=True, on_delete=models.PROTECT
    )
    bot = models.ForeignKey(
        TelegramBot, verbose_name=_("bot"), null=True, blank=True, on_delete=models.PROTECT
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    referrer = models.ForeignKey(
        USER,
        verbose_name=_("passed on by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referred_leads",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("lead origin")
        verbose_name_plural = _("lead origins")
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.kind}"

    @property
    def channel(self) -> str:
        """The form or bot the lead came through, or the source's own name."""
        if self.form_id:
            return str(self.form)
        if self.bot_id:
            return str(self.bot)
        return self.get_kind_display()


class Submission(models.Model):
    """One accepted web-form submission (for repeats and the per-address limit)."""

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="submissions")
    fingerprint = models.CharField(max_length=64, db_index=True)
    address = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    deal = models.ForeignKey("crm.Deal", null=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.form_id} {self.at:%Y-%m-%d %H:%M}"


@audited()
class ChatMessage(models.Model):
    """A message in a messenger conversation with a contact, either way."""

    class Direction(models.TextChoices):
        IN = "in", _("from the client")
        OUT = "out", _("to the client")

    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, related_name="chat_messages"
    )
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_messages"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=SourceKind.choices)
    bot = models.ForeignKey(TelegramBot, null=True, blank=True, on_delete=models.PROTECT)
    # The client's address in the channel: a Telegram chat id, a WhatsApp number.
    address = models.CharField(max_length=64, db_index=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    text = models.TextField(_("text"))
    # The channel's id of the message: a repeat of the same update is stored once.
    external_id = models.CharField(max_length=100)
    author = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="uniq_chat_message_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]
