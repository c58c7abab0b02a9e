"""Skill tests (question banks by topic, assigned with due dates, open answers graded by a
reviewer) and mystery-shopper calls (a call marked as a test call, scored with the
quality checklist and reported apart from ordinary reviews)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from funnelwatch.audit.trail import audited

USER = settings.AUTH_USER_MODEL


class Topic(models.TextChoices):
    PRODUCT = "product", _("Product")
    SCRIPTS = "scripts", _("Scripts")
    OBJECTIONS = "objections", _("Objections")


# The script stages of the call library that teach each topic.
TOPIC_STAGES = {
    Topic.PRODUCT: ("presentation",),
    Topic.SCRIPTS: ("greeting", "needs", "closing"),
    Topic.OBJECTIONS: ("objections",),
}


class Kind(models.TextChoices):
    SINGLE = "single", _("single choice")
    MULTIPLE = "multiple", _("multiple choice")
    OPEN = "open", _("open answer")


@audited()
class Question(models.Model):
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    text = models.TextField(_("question"))
    # [{"text": "...", "correct": true}, ...]; empty for open answers.
    options = models.JSONField(_("options"), default=list, blank=True)
    points = models.PositiveSmallIntegerField(_("points"), default=1)
    active = models.BooleanField(_("in use"), default=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["topic", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        constraints = [
            models.CheckConstraint(condition=models.Q(points__gte=1), name="question_points")
        ]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def correct(self) -> set[int]:
        return {i for i, o in enumerate(self.options) if o.get("correct")}


@audited()
class SkillTest(models.Model):
    title = models.CharField(_("title"), max_length=200, unique=True)
    pass_pct = models.PositiveSmallIntegerField(_("pass mark, %"), default=70)
    questions = models.ManyToManyField(Question, related_name="tests")
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name = _("skill test")
        verbose_name_plural = _("skill tests")
        constraints = [
            models.CheckConstraint(condition=models.Q(pass_pct__lte=100), name="test_pass_pct")
        ]

    def __str__(self) -> str:
        return self.title


@audited()
class TestAssignment(models.Model):
    test = models.ForeignKey(SkillTest, on_delete=models.PROTECT, related_name="assignments")
    manager = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="test_assignments")
    due_date = models.DateField(_("due"))
    assigned_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    class Meta:
        ordering = ["-due_date", "id"]
        verbose_name = _("test assignment")
        verbose_name_plural = _("test assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["test", "manager", "due_date"], name="uniq_test_assignment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.test} → {self.manager} ({self.due_date})"


@audited()
class Attempt(models.Model):
    """A submitted test: one per assignment. ``score_pct`` is set once every answer has
    its points (open answers graded)."""

    assignment = models.OneToOneField(
        TestAssignment, on_delete=models.PROTECT, related_name="attempt"
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    graded_at = models.DateTimeField(_("graded"), null=True, blank=True)
    score_pct = models.DecimalField(
        _("score, %"), max_digits=5, decimal_places=1, null=True, blank=True
    )

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("test attempt")
        verbose_name_plural = _("test attempts")

    def __str__(self) -> str:
        return f"attempt {self.assignment_id}"


@audited()
class Answer(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    chosen = models.JSONField(_("chosen options"), default=list, blank=True)
    text = models.TextField(_("answer"), blank=True)
    # None: an open answer waiting for a reviewer.
    points = models.DecimalField(_("points"), max_digits=5, decimal_places=1, null=True, blank=True)
    graded_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["attempt", "question__topic", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="uniq_attempt_answer")
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.points}"


@audited()
class MysteryCall(models.Model):
    """A call made by a mystery shopper: the call's reviews are its test score, shown
    apart from the ordinary reviews."""

    class Source(models.TextChoices):
        REVIEWER = "reviewer", _("marked by a reviewer")
        IMPORT = "import", _("imported with the flag")

    call = models.OneToOneField("telephony.Call", on_delete=models.CASCADE, related_name="mystery")
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.REVIEWER
    )
    marked_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("marked"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("mystery-shopper call")
        verbose_name_plural = _("mystery-shopper calls")

    def __str__(self) -> str:
        return f"mystery call {self.call_id}"
