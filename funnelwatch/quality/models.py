from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


class ScriptStage(models.TextChoices):
    GREETING = "greeting", _("Greeting")
    NEEDS = "needs", _("Needs")
    PRESENTATION = "presentation", _("Presentation")
    OBJECTIONS = "objections", _("Objections")
    CLOSING = "closing", _("Closing")


class Flag(models.TextChoices):
    TOO_SHORT = "too_short", _("too short to judge")
    MOSTLY_SILENCE = "mostly_silence", _("mostly silence")
    MOSTLY_NOISE = "mostly_noise", _("mostly noise")
    ONE_SIDED = "one_sided", _("one-sided: the client never spoke")


class RecordingAnalysis(models.Model):
    """Conversation metrics of one recording (docs/quality.md); one row a recording,
    replaced when the recording is analysed again."""

    class Status(models.TextChoices):
        OK = "ok", _("analysed")
        FAILED = "failed", _("could not be analysed")

    recording = models.OneToOneField(
        "telephony.Recording", on_delete=models.CASCADE, related_name="analysis"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    analyzer = models.CharField(_("analyser version"), max_length=20, blank=True)
    vad = models.CharField(_("voice detector"), max_length=20, blank=True)
    analyzed_at = models.DateTimeField(_("analysed"), default=timezone.now)
    duration_s = models.FloatField(_("duration, s"), null=True, blank=True)
    channels = models.PositiveSmallIntegerField(_("channels"), null=True, blank=True)
    sample_rate = models.PositiveIntegerField(_("sample rate"), null=True, blank=True)
    stereo = models.BooleanField(_("one party a channel"), default=False)
    manager_speech_s = models.FloatField(_("manager speech, s"), null=True, blank=True)
    client_speech_s = models.FloatField(_("client speech, s"), null=True, blank=True)
    talk_ratio = models.FloatField(_("talk ratio"), null=True, blank=True)
    talk_share_of_call = models.FloatField(_("manager talk / call time"), null=True, blank=True)
    silence_pct = models.FloatField(_("silence, %"), null=True, blank=True)
    long_silences = models.PositiveIntegerField(_("silences over 5 s"), null=True, blank=True)
    longest_monologue_manager_s = models.FloatField(
        _("longest manager monologue, s"), null=True, blank=True
    )
    longest_monologue_client_s = models.FloatField(
        _("longest client monologue, s"), null=True, blank=True
    )
    switches_per_min = models.FloatField(_("speaker switches a minute"), null=True, blank=True)
    patience_s = models.FloatField(_("patience, s"), null=True, blank=True)
    interruptions = models.PositiveIntegerField(_("interruptions"), null=True, blank=True)
    overtalk_pct = models.FloatField(_("overtalk, %"), null=True, blank=True)
    noise_level_db = models.FloatField(_("background level, dBFS"), null=True, blank=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    flagged = models.BooleanField(_("flagged"), default=False, db_index=True)
    # {"manager": [[start_s, end_s], ...], "client": [...]} ({"speech": [...]} for mono)
    segments = models.JSONField(_("speech segments"), default=dict, blank=True)

    class Meta:
        verbose_name = _("recording analysis")
        verbose_name_plural = _("recording analyses")

    def __str__(self) -> str:
        return f"analysis of recording {self.recording_id}"

    def flag_labels(self) -> list[str]:
        labels = dict(Flag.choices)
        return [str(labels.get(f, f)) for f in self.flags]


class Checklist(models.Model):
    """A scorecard the head defines: criteria grouped by script stage."""

    name = models.CharField(_("name"), max_length=200)
    active = models.BooleanField(_("in use"), default=True)
    created_by = models.ForeignKey(
        USER,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-active", "name"]
        verbose_name = _("checklist")
        verbose_name_plural = _("checklists")

    def __str__(self) -> str:
        return self.name


class Criterion(models.Model):
    class Kind(models.TextChoices):
        YES_NO = "yes_no", _("yes / no")
        SCALE = "scale", _("scale 0–N")
        CHOICE = "choice", _("choice")

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="criteria")
    stage = models.CharField(_("script stage"), max_length=20, choices=ScriptStage.choices)
    text = models.CharField(_("criterion"), max_length=300)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.YES_NO)
    scale_max = models.PositiveSmallIntegerField(_("scale maximum"), default=5)
    # For "choice": [{"label": "...", "score": 0..1}, ...]
    options = models.JSONField(_("options"), default=list, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["checklist", "position", "id"]
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")

    def __str__(self) -> str:
        return self.text


class ReviewQueueItem(models.Model):
    """A call the sampling rule picked for review."""

    class Reason(models.TextChoices):
        SAMPLED = "sampled", _("weekly sample")
        FLAGGED = "flagged", _("flagged by the analysis")

    call = models.OneToOneField("telephony.Call", on_delete=models.CASCADE, related_name="+")
    manager = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(_("week (Monday)"), db_index=True)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    created_at = models.DateTimeField(_("queued"), default=timezone.now)

    class Meta:
        ordering = ["-week", "manager", "id"]
        verbose_name = _("call to review")
        verbose_name_plural = _("calls to review")

    def __str__(self) -> str:
        return f"{self.call_id} ({self.reason})"


class Review(models.Model):
    """One reviewer's scoring of one call against a checklist."""

    call = models.ForeignKey("telephony.Call", on_delete=models.CASCADE, related_name="reviews")
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="reviews_given")
    # The call's manager, kept here for visibility and the per-manager numbers.
    manager = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="reviews_received")
    score = models.FloatField(_("score, %"), null=True, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    created_at = models.DateTimeField(_("reviewed"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.UniqueConstraint(fields=["call", "reviewer"], name="uniq_review_call_reviewer")
        ]

    def __str__(self) -> str:
        return f"review of call {self.call_id} by {self.reviewer_id}"


class ReviewAnswer(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="answers")
    value = models.CharField(_("answer"), max_length=100, blank=True)
    # 0..1; None: not applicable on this call.
    score = models.FloatField(_("score"), null=True, blank=True)

    class Meta:
        ordering = ["review", "criterion__position", "criterion_id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "criterion"], name="uniq_review_answer")
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}={self.value}"


class ReviewComment(models.Model):
    """A remark pinned to a moment of the call."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="comments")
    at_s = models.FloatField(_("second of the call"))
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        ordering = ["review", "at_s", "id"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")

    def __str__(self) -> str:
        return f"{self.at_s:.0f}s: {self.text[:40]}"


@audited()
class ExemplaryCall(models.Model):
    """A call put in the training library, tagged by the script stages it shows well."""

    call = models.OneToOneField(
        "telephony.Call", on_delete=models.CASCADE, related_name="exemplary"
    )
    stages = models.JSONField(_("script stages"), default=list, blank=True)
    note = models.TextField(_("why it is worth hearing"), blank=True)
    added_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["-added_at"]
        verbose_name = _("exemplary call")
        verbose_name_plural = _("exemplary calls")

    def __str__(self) -> str:
        return f"exemplary call {self.call_id}"

    def stage_labels(self) -> list[str]:
        labels = dict(ScriptStage.choices)
        return [str(labels.get(s, s)) for s in self.stages]


class Transcript(models.Model):
    """Optional speech-to-text of a recording, one text per channel, with tracked phrases."""

    recording = models.OneToOneField(
        "telephony.Recording", on_delete=models.CASCADE, related_name="transcript"
    )
    backend = models.CharField(_("backend"), max_length=40)
    # {"manager": "...", "client": "..."} or {"speech": "..."}
    texts = models.JSONField(_("texts"), default=dict)
    # [{"phrase": ..., "label": ..., "speaker": ..., "count": n}]
    hits = models.JSONField(_("tracked phrases found"), default=list, blank=True)
    created_at = models.DateTimeField(_("transcribed"), default=timezone.now)

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")

    def __str__(self) -> str:
        return f"transcript of recording {self.recording_id}"


class TrackedPhrase(models.Model):
    """A keyword or script phrase to look for in transcripts ("price", a competitor)."""

    class Speaker(models.TextChoices):
        MANAGER = "manager", _("manager")
        CLIENT = "client", _("client")
        ANY = "any", _("either")

    label = models.CharField(_("label"), max_length=100)
    phrase = models.CharField(_("phrase"), max_length=200)
    speaker = models.CharField(
        _("said by"), max_length=10, choices=Speaker.choices, default=Speaker.ANY
    )
    active = models.BooleanField(_("tracked"), default=True)

    class Meta:
        ordering = ["label", "phrase"]
        verbose_name = _("tracked phrase")
        verbose_name_plural = _("tracked phrases")

    def __str__(self) -> str:
        return self.phrase
