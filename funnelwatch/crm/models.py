from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.models import Archivable
from funnelwatch.audit.trail import audited
from funnelwatch.lib.dates import shown

USER = settings.AUTH_USER_MODEL

# Money: at most 15 digits, 2 of them after the point, never negative, so every amount is
# below MONEY_LIMIT (10**13, ~3 billion USD in tögrög). The database holds that line too:
# SQLite does not enforce max_digits, and an amount it stored beyond them (say 1e30) could
# not be read back, which broke every list, board and report showing the deal. 15 digits,
# not 16, because SQLite keeps a number as a double with 15 significant digits:
# 99999999999999.99 came back as 1E+14 and failed the same way.
MONEY_DIGITS, MONEY_PLACES = 15, 2
MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)


def money_field(verbose_name: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        verbose_name,
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        validators=[MinValueValidator(Decimal("0"))],
        **kwargs,
    )


def money_in_range(field: str, *, nullable: bool = False) -> models.Q:
    """The database's check for a money column (NULL passes where the column allows it)."""
    within = models.Q(**{f"{field}__gte": 0, f"{field}__lt": MONEY_LIMIT})
    return within | models.Q(**{f"{field}__isnull": True}) if nullable else within


class Block(models.TextChoices):
    INTAKE = "intake", _("New leads")
    PROPOSAL = "proposal", _("Proposals")
    OBJECTIONS = "objections", _("Objections")
    CLOSING = "closing", _("Closing")


BLOCK_ORDER = [Block.INTAKE, Block.PROPOSAL, Block.OBJECTIONS, Block.CLOSING]


class Outcome(models.TextChoices):
    OPEN = "open", _("open")
    WON = "won", _("won")
    LOST = "lost", _("lost")
    JUNK = "junk", _("junk")


@audited()
class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    segment = models.CharField(_("segment"), max_length=100, blank=True)
    owner = models.ForeignKey(
        USER,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="companies",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


@audited()
class Contact(models.Model):
    name = models.CharField(_("name"), max_length=200)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
    )
    position = models.CharField(_("position"), max_length=100, blank=True)
    owner = models.ForeignKey(
        USER,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        # The contacts list pages by name: the index gives a page in name order without
        # sorting every contact (1.5 million at L took 0.3 s a page), the key keeps the
        # order of equal names the same from page to page.
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["name", "id"], name="crm_contact_name")]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name


@audited()
class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("phone (E.164)"), max_length=20, db_index=True)
    raw = models.CharField(_("as entered"), max_length=40, blank=True)
    kind = models.CharField(_("kind"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        constraints = [
            models.UniqueConstraint(fields=["contact", "number"], name="uniq_contact_phone"),
        ]

    def __str__(self) -> str:
        return self.number


@audited()
class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(_("e-mail"), db_index=True)

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")
        constraints = [
            models.UniqueConstraint(fields=["contact", "email"], name="uniq_contact_email"),
        ]

    def __str__(self) -> str:
        return self.email


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name

    def first_stage(self) -> Stage:
        return self.stages.filter(outcome=Outcome.OPEN).order_by("position").first()

    def stage_for(self, outcome: str) -> Stage:
        stage = self.stages.filter(outcome=outcome).order_by("position").first()
        if stage is None:
            raise Stage.DoesNotExist(f"pipeline {self} has no {outcome} stage")
        return stage


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"))
    block = models.CharField(_("block"), max_length=20, choices=Block.choices)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN
    )
    norm_days = models.PositiveIntegerField(
        _("norm, days"),
        null=True,
        blank=True,
        help_text=_("Days a deal may stay in this stage before it counts as stalled."),
    )

    class Meta:
        ordering = ["pipeline", "position"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "position"], name="uniq_stage_position"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.outcome == Outcome.OPEN


class LeadSource(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("lead source")
        verbose_name_plural = _("lead sources")

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Some reasons ("no budget now", "chose later") are worth coming back to.
    revivable = models.BooleanField(_("often revivable"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")

    def __str__(self) -> str:
        return self.name


class JunkReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("junk reason")
        verbose_name_plural = _("junk reasons")

    def __str__(self) -> str:
        return self.name


@audited("stage_entered_at")
class Deal(models.Model):
    """A deal; a new deal in an intake stage is a lead."""

    title = models.CharField(_("title"), max_length=200)
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
    )
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
    )
    owner = models.ForeignKey(
        USER, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="deals"
    )
    source = models.ForeignKey(
        LeadSource,
        verbose_name=_("source"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    amount = money_field(_("amount"), default=Decimal("0"))
    cost = money_field(_("cost"), default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3)
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT)
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, db_index=True)
    # When the deal entered its current stage (kept by the services, for stalled-deal checks).
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    lost_reason = models.ForeignKey(
        LostReason,
        verbose_name=_("lost reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    junk_reason = models.ForeignKey(
        JunkReason,
        verbose_name=_("junk reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    close_comment = models.CharField(_("comment on closing"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "stage"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="lost") | models.Q(lost_reason__isnull=False),
                name="lost_deal_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="junk") | models.Q(junk_reason__isnull=False),
                name="junk_deal_has_reason",
            ),
            models.CheckConstraint(condition=money_in_range("amount"), name="deal_amount_in_range"),
            models.CheckConstraint(condition=money_in_range("cost"), name="deal_cost_in_range"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == Outcome.OPEN


class StageChange(models.Model):
    """Every stage a deal entered, with when it left: time in stage is ``left_at - at``."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), db_index=True)
    left_at = models.DateTimeField(_("left the stage"), null=True, blank=True)
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The deal's owner at the time of the change: metrics credit them.
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["deal", "at"]),
            models.Index(fields=["owner", "at"]),
            # Entries into one stage in a period (the wins above all: revenue, turnover per
            # client, the sales page): one range instead of two indexes of hundreds of
            # thousands of rows each combined (at L, a month's wins: 250 ms to 25 ms).
            models.Index(fields=["to_stage", "at"], name="crm_stagechange_to_stage_at"),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id} at {shown(self.at)}"

    @property
    def duration(self):
        return (self.left_at or timezone.now()) - self.at


class OwnerChange(models.Model):
    """Every (re-)assignment of a deal, so a metric credits the owner at the time."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="owner_changes")
    from_owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), db_index=True)
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("owner change")
        verbose_name_plural = _("owner changes")
        indexes = [models.Index(fields=["deal", "at"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_owner_id} → {self.to_owner_id} at {shown(self.at)}"


class Channel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    MESSENGER = "messenger", _("messenger")
    IN_PERSON = "in_person", _("in person")
    OTHER = "other", _("other")


@audited()
class Proposal(Archivable):
    """A commercial proposal sent to the client."""

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.PROTECT, related_name="proposals"
    )
    author = models.ForeignKey(
        USER, verbose_name=_("sent by"), on_delete=models.PROTECT, related_name="+"
    )
    amount = money_field(_("amount"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, db_index=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.EMAIL
    )
    comment = models.CharField(_("comment"), max_length=500, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        indexes = [models.Index(fields=["author", "sent_at"])]
        constraints = [
            models.CheckConstraint(
                condition=money_in_range("amount", nullable=True), name="proposal_amount_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deal} — {self.amount or ''}"


@audited()
class Meeting(Archivable):
    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        HELD = "held", _("held")
        CANCELLED = "cancelled", _("cancelled")

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.PROTECT, related_name="meetings"
    )
    owner = models.ForeignKey(
        USER, verbose_name=_("manager"), on_delete=models.PROTECT, related_name="meetings"
    )
    scheduled_at = models.DateTimeField(_("scheduled for"), db_index=True)
    held_at = models.DateTimeField(_("held at"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PLANNED
    )
    place = models.CharField(_("place"), max_length=200, blank=True)

    class Meta:
        ordering = ["scheduled_at"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")

    def __str__(self) -> str:
        return f"{self.deal} @ {shown(self.scheduled_at)}"


@audited()
class Note(Archivable):
    deal = models.ForeignKey(
        Deal,
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notes",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notes",
    )
    author = models.ForeignKey(
        USER, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return self.text[:60]


@audited()
class Task(Archivable):
    class Kind(models.TextChoices):
        CALL = "call", _("call")
        MEETING = "meeting", _("meeting")
        EMAIL = "email", _("e-mail")
        OTHER = "other", _("other")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.CALL)
    author = models.ForeignKey(
        USER, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        USER, verbose_name=_("assignee"), on_delete=models.PROTECT, related_name="tasks"
    )
    due_at = models.DateTimeField(_("due"), db_index=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True, db_index=True)
    deal = models.ForeignKey(
        Deal,
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [models.Index(fields=["assignee", "done_at", "due_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
