from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.models import Archivable
from funnelwatch.audit.trail import audited
from funnelwatch.lib.dates import shown

USER = settings.AUTH_USER_MODEL


class Direction(models.TextChoices):
    IN = "in", _("inbound")
    OUT = "out", _("outbound")
    INTERNAL = "internal", _("internal")


class CallOutcome(models.TextChoices):
    """Outcomes normalised across providers (docs/telephony.md)."""

    ANSWERED = "answered", _("answered")
    NO_ANSWER = "no_answer", _("no answer")
    BUSY = "busy", _("busy")
    CANCELLED = "cancelled", _("cancelled")
    FAILED = "failed", _("failed")
    VOICEMAIL = "voicemail", _("voicemail")


# An inbound call nobody took and no callback is linked to: the condition of the two
# partial indexes of unreturned calls below. Queries meant for them state it with its
# constants written out (``unreturned_sql``): a planner uses a partial index only for a
# query whose condition implies the index's, and bound parameters do not show that.
UNRETURNED = models.Q(direction=Direction.IN, callback__isnull=True) & ~models.Q(
    outcome=CallOutcome.ANSWERED
)
UNRETURNED_BY_START, UNRETURNED_BY_NUMBER = "call_unreturned_started", "call_unreturned_missed"


class Call(Archivable):
    """One conversation attempt, built from one or more legs; never deleted."""

    provider = models.CharField(_("provider"), max_length=30)
    external_id = models.CharField(_("provider call id"), max_length=120)
    correlation_id = models.CharField(_("correlation id"), max_length=120, blank=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    from_number = models.CharField(_("from"), max_length=40, blank=True)
    from_raw = models.CharField(_("from (as received)"), max_length=120, blank=True)
    to_number = models.CharField(_("to"), max_length=40, blank=True)
    to_raw = models.CharField(_("to (as received)"), max_length=120, blank=True)
    # The client's number in E.164 (from for inbound, to for outbound): callbacks match on it.
    client_number = models.CharField(_("client number"), max_length=40, blank=True)
    manager = models.ForeignKey(
        USER,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        db_index=False,  # (manager, started_at) below serves lookups by manager
    )
    contact = models.ForeignKey(
        "crm.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
    )
    deal = models.ForeignKey(
        "crm.Deal",
        verbose_name=_("deal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
    )
    started_at = models.DateTimeField(_("started"), db_index=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    duration_s = models.PositiveIntegerField(_("duration, s"), default=0)
    talk_seconds = models.PositiveIntegerField(_("talk time, s"), default=0)
    outcome = models.CharField(_("outcome"), max_length=20, choices=CallOutcome.choices)
    hangup_cause = models.CharField(_("hang-up cause"), max_length=60, blank=True)
    # Missed inbound calls: the first later outbound call to the same number.
    callback = models.ForeignKey(
        "self",
        verbose_name=_("returned by call"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    callback_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    raw = models.JSONField(_("raw record"), default=dict, blank=True)
    created_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="uniq_call_provider_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["manager", "started_at"]),
            models.Index(fields=["direction", "outcome", "started_at"]),
            models.Index(fields=["client_number", "started_at"]),
            # The deal's and the contact's timelines: newest calls first, without scanning
            # every call by time.
            models.Index(fields=["deal", "started_at"], name="call_deal_started"),
            models.Index(fields=["contact", "started_at"], name="call_contact_started"),
            # The missed-calls page: missed calls not yet returned, oldest first, and those
            # returned lately, without reading every call of the period.
            models.Index(
                fields=["started_at"],
                name=UNRETURNED_BY_START,
                condition=UNRETURNED,
            ),
            models.Index(
                fields=["started_at"],
                name="call_returned_started",
                condition=models.Q(callback__isnull=False),
            ),
            # Missed inbound calls nobody has returned yet, by number: each new outbound
            # call looks for them (few rows, whatever the number's history).
            models.Index(
                fields=["client_number", "started_at"],
                name=UNRETURNED_BY_NUMBER,
                condition=UNRETURNED,
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_direction_display()} {self.from_number or self.from_raw} → "
            f"{self.to_number or self.to_raw} {shown(self.started_at)}"
        )

    @property
    def answered(self) -> bool:
        return self.outcome == CallOutcome.ANSWERED

    @property
    def is_missed(self) -> bool:
        return self.direction == Direction.IN and self.outcome != CallOutcome.ANSWERED


class CallLeg(models.Model):
    """One CDR / channel of a call (a ring-group phone, a transfer, an IVR hop)."""

    # db_index=False: the unique (call, leg_id) index serves lookups by call.
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="legs", db_index=False)
    leg_id = models.CharField(_("leg id"), max_length=120)
    channel = models.CharField(_("channel"), max_length=200, blank=True)
    dstchannel = models.CharField(_("destination channel"), max_length=200, blank=True)
    disposition = models.CharField(_("disposition"), max_length=40, blank=True)
    billsec = models.PositiveIntegerField(_("billed seconds"), default=0)
    answered = models.BooleanField(_("answered"), default=False)
    raw = models.JSONField(_("raw record"), default=dict, blank=True)

    class Meta:
        ordering = ["call", "id"]
        verbose_name = _("call leg")
        verbose_name_plural = _("call legs")
        constraints = [
            models.UniqueConstraint(fields=["call", "leg_id"], name="uniq_call_leg"),
        ]

    def __str__(self) -> str:
        return self.leg_id


class Recording(models.Model):
    class Channel(models.TextChoices):
        LEFT = "left", _("left")
        RIGHT = "right", _("right")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        STORED = "stored", _("stored")
        FAILED = "failed", _("failed")
        # Deleted when older than the recording retention (the call is kept).
        EXPIRED = "expired", _("deleted after the retention period")

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="recording")
    file = models.FileField(_("file"), upload_to="recordings/%Y/%m/", blank=True)
    source_url = models.CharField(_("source URL"), max_length=500, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    duration_s = models.FloatField(_("duration, s"), null=True, blank=True)
    # Which stereo channel carries the manager's voice.
    manager_channel = models.CharField(
        _("manager's channel"), max_length=5, choices=Channel.choices, default=Channel.LEFT
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("download attempts"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")

    def __str__(self) -> str:
        return f"recording of call {self.call_id}"


class WebhookEvent(models.Model):
    """Every webhook body as received, stored before it is processed."""

    provider = models.CharField(_("provider"), max_length=30)
    event_key = models.CharField(_("event key"), max_length=200)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    payload = models.JSONField(_("payload"), default=dict)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_key"], name="uniq_webhook_event"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_key}"


@audited()
class RoutingRule(models.Model):
    """A manager's share of new callers: weight, daily cap, working hours."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="routing_rule")
    active = models.BooleanField(_("takes new callers"), default=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    daily_cap = models.PositiveIntegerField(_("daily cap"), null=True, blank=True)
    start_hour = models.PositiveSmallIntegerField(_("works from (hour)"), default=9)
    end_hour = models.PositiveSmallIntegerField(_("works until (hour)"), default=18)

    class Meta:
        ordering = ["user"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.user} ×{self.weight}"


class RoutingAssignment(models.Model):
    """Each time routing picked a manager (for the daily cap, round-robin and the report)."""

    class Reason(models.TextChoices):
        OWNER = "owner", _("client's owner")
        ROUND_ROBIN = "round_robin", _("round-robin")

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(_("number"), max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("routing assignment")
        verbose_name_plural = _("routing assignments")
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.reason} {shown(self.at)}"


def unreturned_sql(alias: str = "") -> str:
    """:data:`UNRETURNED` as SQL, constants written out as in the indexes' own definition
    (the same compiler writes both), its columns qualified by ``alias`` (default: the
    table's name)."""
    from django.db import connection
    from django.db.models.sql import Query

    query = Query(model=Call, alias_cols=False)
    where = query.build_where(UNRETURNED)
    sql, params = where.as_sql(query.get_compiler(connection=connection), connection)
    prefix = f"{alias or connection.ops.quote_name(Call._meta.db_table)}."
    for column in _columns(UNRETURNED):
        quoted = connection.ops.quote_name(column)
        sql = sql.replace(quoted, prefix + quoted)
    connection.ensure_connection()  # PostgreSQL quotes values with its connection
    quote = connection.schema_editor().quote_value
    return sql % tuple(quote(p) for p in params)


def _columns(condition: models.Q) -> set[str]:
    """The columns a condition's lookups name."""
    out = set()
    for child in condition.children:
        if isinstance(child, models.Q):
            out |= _columns(child)
        else:
            out.add(Call._meta.get_field(child[0].split("__")[0]).column)
    return out
