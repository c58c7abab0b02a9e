"""Writing skill tests: questions, tests, assignments, submissions and grading; scoring.

Scoring: a single-choice question earns its points when the one correct option is
chosen; a multiple-choice question when exactly the correct options are chosen (no
partial credit); an open answer earns what the reviewer gives, 0 to the question's
points. A topic's score is the points earned over the points possible in that topic, the
attempt's score the same over all questions; both count only once every answer is graded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Role, User
from funnelwatch.audit.trail import acting_as
from funnelwatch.skills.models import (
    TOPIC_STAGES,
    Answer,
    Attempt,
    Kind,
    MysteryCall,
    Question,
    SkillTest,
    TestAssignment,
    Topic,
)

MAX_TEXT = 5000
TENTH = Decimal("0.1")


class SkillsError(Exception):
    """Input that cannot be taken, with the reason (and the field) for the person."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def may_grade(user: User) -> bool:
    return user.is_superuser or user.role in (Role.HEAD, Role.ADMIN, Role.REVIEWER, Role.TEAM_LEAD)


def may_write_bank(user: User) -> bool:
    return user.is_superuser or user.role in (Role.HEAD, Role.ADMIN, Role.REVIEWER)


def may_assign(user: User) -> bool:
    return user.is_superuser or user.role in (Role.HEAD, Role.ADMIN, Role.TEAM_LEAD)


def parse_options(kind: str, text: str) -> list[dict]:
    """One option a line; a line starting with ``*`` is a correct one."""
    if kind == Kind.OPEN:
        return []
    options = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        correct = line.startswith("*")
        label = line.lstrip("*").strip()
        if not label:
            continue
        options.append({"text": label[:300], "correct": correct})
    if len(options) < 2:
        raise SkillsError(_("Give at least two options, one a line."), "options")
    right = sum(1 for o in options if o["correct"])
    if kind == Kind.SINGLE and right != 1:
        raise SkillsError(_("Mark exactly one option correct with a * in front."), "options")
    if kind == Kind.MULTIPLE and right < 1:
        raise SkillsError(_("Mark the correct options with a * in front."), "options")
    return options


def create_question(
    *, topic: str, kind: str, text: str, options: str, points: object, by: User
) -> Question:
    if topic not in Topic.values:
        raise SkillsError(_("Choose a topic."), "topic")
    if kind not in Kind.values:
        raise SkillsError(_("Choose the type of question."), "kind")
    text = (text or "").strip()
    if not text or len(text) > 2000:
        raise SkillsError(_("Write the question (up to 2000 characters)."), "text")
    try:
        points = int(str(points or "1"))
    except ValueError:
        points = 0
    if not 1 <= points <= 100:
        raise SkillsError(_("Points are a whole number from 1 to 100."), "points")
    parsed = parse_options(kind, options or "")
    with acting_as(by):
        return Question.objects.create(
            topic=topic, kind=kind, text=text, options=parsed, points=points, created_by=by
        )


def create_test(*, title: str, pass_pct: object, question_ids: list[str], by: User) -> SkillTest:
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise SkillsError(_("Give the test a title (up to 200 characters)."), "title")
    try:
        pct = int(str(pass_pct or "70"))
    except ValueError:
        pct = -1
    if not 0 <= pct <= 100:
        raise SkillsError(_("The pass mark is a whole number from 0 to 100."), "pass_pct")
    ids = {int(q) for q in question_ids if str(q).isdigit() and len(str(q)) < 19}
    questions = list(Question.objects.filter(pk__in=ids, active=True))
    if not questions or len(questions) != len(ids):
        raise SkillsError(_("Choose the test's questions from the bank."), "questions")
    try:
        with transaction.atomic(), acting_as(by):
            test = SkillTest.objects.create(title=title, pass_pct=pct, created_by=by)
            test.questions.set(questions)
    except IntegrityError:
        raise SkillsError(_("A test with this title exists already."), "title") from None
    return test


def assign(
    *, test: SkillTest, managers: list[User], due_date: dt.date, by: User
) -> list[TestAssignment]:
    if not managers:
        raise SkillsError(_("Choose who takes the test."), "managers")
    made = []
    with transaction.atomic(), acting_as(by):
        for manager in managers:
            item, created = TestAssignment.objects.get_or_create(
                test=test, manager=manager, due_date=due_date, defaults={"assigned_by": by}
            )
            if created:
                made.append(item)
    return made


def auto_points(question: Question, chosen: list[int]) -> Decimal | None:
    if question.kind == Kind.OPEN:
        return None
    right = set(chosen) == question.correct
    return Decimal(question.points) if right else Decimal(0)


def submit(assignment: TestAssignment, by: User, responses: dict[int, dict]) -> Attempt:
    """``responses``: {question id: {"chosen": [option index, ...], "text": "..."}}."""
    if by.pk != assignment.manager_id:
        raise SkillsError(_("Only the person the test is assigned to takes it."))
    questions = list(assignment.test.questions.all())
    answers = []
    for q in questions:
        given = responses.get(q.pk, {})
        chosen = sorted(set(given.get("chosen", [])))
        text = (given.get("text") or "").strip()
        if any(not 0 <= i < len(q.options) for i in chosen):
            raise SkillsError(
                _("An answer names an option the question does not have."), f"q_{q.pk}"
            )
        if q.kind == Kind.SINGLE and len(chosen) > 1:
            raise SkillsError(_("Choose one option."), f"q_{q.pk}")
        if len(text) > MAX_TEXT:
            raise SkillsError(_("An answer is longer than 5000 characters."), f"q_{q.pk}")
        if q.kind == Kind.OPEN:
            chosen = []
        else:
            text = ""
        answers.append(Answer(question=q, chosen=chosen, text=text, points=auto_points(q, chosen)))
    try:
        with transaction.atomic(), acting_as(by):
            attempt = Attempt.objects.create(assignment=assignment, submitted_at=timezone.now())
            for a in answers:
                a.attempt = attempt
                a.save()
            _finish(attempt)
    except IntegrityError:
        raise SkillsError(_("This test is submitted already.")) from None
    return attempt


def grade(attempt: Attempt, by: User, points: dict[int, str]) -> Attempt:
    """Give open answers their points: {answer id: "2.5"}."""
    if not may_grade(by):
        raise SkillsError(_("Only reviewers and leaders grade tests."))
    if by.pk == attempt.assignment.manager_id:
        raise SkillsError(_("Nobody grades their own test."))
    answers = {a.pk: a for a in attempt.answers.select_related("question")}
    with transaction.atomic(), acting_as(by):
        for answer_id, raw in points.items():
            answer = answers.get(answer_id)
            if answer is None or answer.question.kind != Kind.OPEN or raw in ("", None):
                continue
            try:
                value = Decimal(str(raw).replace(",", ".")).quantize(TENTH)
            except (InvalidOperation, ValueError):
                raise SkillsError(_("Points are a number."), f"a_{answer_id}") from None
            if not 0 <= value <= answer.question.points:
                raise SkillsError(
                    _("Points for an answer go from 0 to %(max)s.")
                    % {"max": answer.question.points},
                    f"a_{answer_id}",
                )
            answer.points = value
            answer.graded_by = by
            answer.save()
        _finish(attempt)
    return attempt


@dataclass
class TopicScore:
    topic: str
    label: str
    earned: Decimal
    possible: Decimal
    pending: int

    @property
    def pct(self) -> Decimal | None:
        if self.pending or not self.possible:
            return None
        return (self.earned / self.possible * 100).quantize(TENTH, rounding=ROUND_HALF_UP)


def topic_scores(attempt: Attempt) -> list[TopicScore]:
    by_topic: dict[str, TopicScore] = {}
    labels = dict(Topic.choices)
    for a in attempt.answers.select_related("question"):
        q = a.question
        score = by_topic.setdefault(
            q.topic, TopicScore(q.topic, str(labels[q.topic]), Decimal(0), Decimal(0), 0)
        )
        score.possible += q.points
        if a.points is None:
            score.pending += 1
        else:
            score.earned += a.points
    return [by_topic[t] for t in Topic.values if t in by_topic]


def _finish(attempt: Attempt) -> None:
    scores = topic_scores(attempt)
    if any(s.pending for s in scores):
        return
    earned = sum((s.earned for s in scores), Decimal(0))
    possible = sum((s.possible for s in scores), Decimal(0))
    attempt.score_pct = (
        (earned / possible * 100).quantize(TENTH, rounding=ROUND_HALF_UP) if possible else None
    )
    attempt.graded_at = timezone.now()
    attempt.save(update_fields=["score_pct", "graded_at"])


def failed_topics(attempt: Attempt) -> list[TopicScore]:
    pass_pct = attempt.assignment.test.pass_pct
    return [s for s in topic_scores(attempt) if s.pct is not None and s.pct < pass_pct]


def suggestions(topic: str, limit: int = 5) -> list:
    """Calls from the call library that teach the topic (by their script stages)."""
    from funnelwatch.quality.queries import library

    stages = set(TOPIC_STAGES.get(topic, ()))
    return [item for item in library() if stages & set(item.stages)][:limit]


def history(manager_ids: set[int] | None) -> dict:
    """Scores per manager, topic and month of the graded attempts (the topic score of the
    month is its points earned over points possible across that month's attempts)."""
    attempts = Attempt.objects.filter(score_pct__isnull=False).select_related("assignment__manager")
    if manager_ids is not None:
        attempts = attempts.filter(assignment__manager_id__in=manager_ids)
    sums: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    managers = {}
    months = set()
    for attempt in attempts:
        month = timezone.localtime(attempt.submitted_at).date().replace(day=1)
        months.add(month)
        manager = attempt.assignment.manager
        managers[manager.pk] = manager
        for s in topic_scores(attempt):
            acc = sums[(manager.pk, s.topic, month)]
            acc[0] += s.earned
            acc[1] += s.possible
    months = sorted(months)[-6:]
    rows = []
    labels = dict(Topic.choices)
    for pk, manager in sorted(managers.items(), key=lambda kv: str(kv[1])):
        for topic in Topic.values:
            cells = []
            for month in months:
                earned, possible = sums.get((pk, topic, month), (0, 0))
                cells.append(
                    (Decimal(earned) / possible * 100).quantize(TENTH) if possible else None
                )
            if any(c is not None for c in cells):
                rows.append({"manager": manager, "topic": labels[topic], "cells": cells})
    return {"months": months, "rows": rows}


def mark_mystery(
    call, by: User | None, note: str = "", source: str = MysteryCall.Source.REVIEWER
) -> MysteryCall:
    """Mark ``call`` as a mystery shopper's; by a reviewer, or by an import (``by`` None,
    recorded as the system's)."""
    if len(note) > 300:
        raise SkillsError(_("The note is longer than 300 characters."), "note")
    with transaction.atomic(), acting_as(by):
        item, created = MysteryCall.objects.get_or_create(
            call=call, defaults={"marked_by": by, "note": note, "source": source}
        )
    if not created:
        raise SkillsError(_("This call is marked as a test call already."), "call")
    # Its reviews leave the ordinary review score of the call's day.
    from funnelwatch import metrics

    metrics.changed("quality", [call.manager_id], [call.started_at], keys=["quality_review_score"])
    return item
