from __future__ import annotations

from collections import defaultdict
from statistics import mean

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import can_see_user, limit_to_owner, visible_user_ids
from funnelwatch.core import params
from funnelwatch.skills import services
from funnelwatch.skills.models import (
    Kind,
    MysteryCall,
    Question,
    SkillTest,
    TestAssignment,
    Topic,
)

SELLER_ROLES = (Role.MANAGER, Role.TEAM_LEAD)


def _assignees(user: User):
    users = User.objects.filter(is_active=True, role__in=SELLER_ROLES)
    ids = visible_user_ids(user)
    return users if ids is None else users.filter(pk__in=ids)


@login_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    assignments = limit_to_owner(
        user,
        TestAssignment.objects.select_related("test", "manager", "attempt"),
        "manager",
    ).order_by("-due_date", "manager__first_name")[:200]
    for item in assignments:
        item.taken = getattr(item, "attempt", None)
    return render(
        request,
        "skills/index.html",
        {
            "assignments": assignments,
            "history": services.history(visible_user_ids(user)),
            "may_assign": services.may_assign(user),
            "may_write_bank": services.may_write_bank(user),
            "tests": SkillTest.objects.all() if services.may_assign(user) else [],
            "assignees": _assignees(user) if services.may_assign(user) else [],
        },
    )


@login_required
@require_POST
def assign(request: HttpRequest) -> HttpResponse:
    if not services.may_assign(request.user):
        raise PermissionDenied
    test = SkillTest.objects.filter(pk=params.object_id(request.POST, "test") or 0).first()
    due = params.day(request.POST, "due_date")
    ids = [int(v) for v in request.POST.getlist("managers") if v.isdigit() and len(v) < 19]
    managers = list(_assignees(request.user).filter(pk__in=ids))
    try:
        if test is None:
            raise services.SkillsError(_("Choose a test."), "test")
        if due is None:
            raise services.SkillsError(_("Give the due date."), "due_date")
        if len(managers) != len(set(ids)):
            raise services.SkillsError(_("Choose managers you lead."), "managers")
        made = services.assign(test=test, managers=managers, due_date=due, by=request.user)
    except services.SkillsError as exc:
        messages.error(request, str(exc))
        return redirect("skills:index")
    messages.success(request, _("Assigned to %(n)s people.") % {"n": len(made)})
    return redirect("skills:index")


def _responses(post, questions) -> dict:
    out = {}
    for q in questions:
        raw = post.getlist(f"q_{q.pk}")
        if q.kind == Kind.OPEN:
            out[q.pk] = {"text": post.get(f"q_{q.pk}", "")}
        else:
            chosen = []
            for value in raw:
                if not value.isdigit() or len(value) > 4:
                    raise services.SkillsError(_("An answer is not one of the options."))
                chosen.append(int(value))
            out[q.pk] = {"chosen": chosen}
    return out


@login_required
def assignment(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(
        TestAssignment.objects.select_related("test", "manager", "assigned_by"), pk=pk
    )
    if not can_see_user(request.user, item.manager_id):
        raise Http404
    attempt = getattr(item, "attempt", None)
    questions = list(item.test.questions.all())
    if request.method == "POST":
        if request.user.pk != item.manager_id or attempt is not None:
            raise PermissionDenied
        try:
            services.submit(item, request.user, _responses(request.POST, questions))
        except services.SkillsError as exc:
            messages.error(request, str(exc))
            return redirect("skills:assignment", pk=item.pk)
        messages.success(request, _("Test submitted."))
        return redirect("skills:assignment", pk=item.pk)
    context = {"item": item, "attempt": attempt, "questions": questions}
    if attempt is not None:
        answers = list(attempt.answers.select_related("question", "graded_by"))
        for a in answers:
            a.options = [
                {"text": o["text"], "correct": o.get("correct"), "chosen": i in a.chosen}
                for i, o in enumerate(a.question.options)
            ]
        failed = services.failed_topics(attempt)
        context.update(
            answers=answers,
            scores=services.topic_scores(attempt),
            failed=[(s, services.suggestions(s.topic)) for s in failed],
            may_grade=services.may_grade(request.user) and request.user.pk != item.manager_id,
            pending=any(a.points is None for a in answers),
        )
    else:
        context["may_take"] = request.user.pk == item.manager_id
    return render(request, "skills/assignment.html", context)


@login_required
@require_POST
def grade(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(TestAssignment, pk=pk)
    if not services.may_grade(request.user) or request.user.pk == item.manager_id:
        raise PermissionDenied
    if not can_see_user(request.user, item.manager_id):
        raise Http404
    attempt = getattr(item, "attempt", None)
    if attempt is None:
        raise Http404
    points = {}
    for key, value in request.POST.items():
        if key.startswith("a_") and key[2:].isdigit() and len(key) < 21:
            points[int(key[2:])] = value.strip()
    try:
        services.grade(attempt, request.user, points)
    except services.SkillsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Grades saved."))
    return redirect("skills:assignment", pk=item.pk)


@login_required
def questions(request: HttpRequest) -> HttpResponse:
    if not services.may_write_bank(request.user) and request.user.role != Role.TEAM_LEAD:
        raise PermissionDenied
    form = {}
    status = 200
    if request.method == "POST":
        if not services.may_write_bank(request.user):
            raise PermissionDenied
        form = {k: request.POST.get(k, "") for k in ("topic", "kind", "text", "options", "points")}
        try:
            services.create_question(by=request.user, **form)
        except services.SkillsError as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            messages.success(request, _("Question added."))
            return redirect("skills:questions")
    topic = params.text(request.GET, "topic")
    if topic and topic not in Topic.values:
        raise params.BadParameter("topic", _("product, scripts or objections."))
    bank = Question.objects.filter(active=True)
    if topic:
        bank = bank.filter(topic=topic)
    return render(
        request,
        "skills/questions.html",
        {
            "bank": bank,
            "topics": Topic.choices,
            "kinds": Kind.choices,
            "topic": topic,
            "form": form,
            "may_write_bank": services.may_write_bank(request.user),
        },
        status=status,
    )


@login_required
def tests(request: HttpRequest) -> HttpResponse:
    if not services.may_write_bank(request.user) and request.user.role != Role.TEAM_LEAD:
        raise PermissionDenied
    status = 200
    if request.method == "POST":
        if not services.may_write_bank(request.user):
            raise PermissionDenied
        try:
            services.create_test(
                title=request.POST.get("title", ""),
                pass_pct=request.POST.get("pass_pct", ""),
                question_ids=request.POST.getlist("questions"),
                by=request.user,
            )
        except services.SkillsError as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            messages.success(request, _("Test created."))
            return redirect("skills:tests")
    return render(
        request,
        "skills/tests.html",
        {
            "tests": SkillTest.objects.prefetch_related("questions"),
            "bank": Question.objects.filter(active=True),
            "may_write_bank": services.may_write_bank(request.user),
        },
        status=status,
    )


def _avg(values: list[float]) -> float | None:
    return round(mean(values), 1) if values else None


@login_required
def mystery(request: HttpRequest) -> HttpResponse:
    from funnelwatch.quality.models import Review
    from funnelwatch.quality.queries import calls_for, reviews_for

    user = request.user
    may_mark = services.may_grade(user)
    if request.method == "POST":
        if not may_mark:
            raise PermissionDenied
        call_id = params.object_id(request.POST, "call")
        call = calls_for(user).filter(pk=call_id or 0).first()
        try:
            if call is None:
                raise services.SkillsError(_("No such call among the calls you review."), "call")
            services.mark_mystery(call, user, request.POST.get("note", "").strip())
        except services.SkillsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Marked as a mystery-shopper call."))
        return redirect("skills:mystery")
    items = limit_to_owner(
        user,
        MysteryCall.objects.select_related("call", "call__manager", "marked_by"),
        "call__manager",
    )[:200]
    scores = defaultdict(list)
    for call_id, score in Review.objects.filter(
        call_id__in=[i.call_id for i in items], score__isnull=False
    ).values_list("call_id", "score"):
        scores[call_id].append(score)
    for item in items:
        item.score = _avg(scores.get(item.call_id, []))
    # Per manager: the test calls' score beside the ordinary reviews' score.
    per_manager: dict = defaultdict(lambda: {"mystery": [], "ordinary": []})
    for manager_id, score, is_test in (
        reviews_for(user)
        .filter(score__isnull=False)
        .values_list("manager_id", "score", "call__mystery")
    ):
        per_manager[manager_id]["mystery" if is_test else "ordinary"].append(score)
    people = {u.pk: u for u in User.objects.filter(pk__in=per_manager)}
    summary = [
        {
            "manager": people[pk],
            "mystery": _avg(v["mystery"]),
            "mystery_n": len(v["mystery"]),
            "ordinary": _avg(v["ordinary"]),
            "ordinary_n": len(v["ordinary"]),
        }
        for pk, v in sorted(per_manager.items(), key=lambda kv: str(people[kv[0]]))
        if v["mystery"]
    ]
    return render(
        request,
        "skills/mystery.html",
        {"items": items, "summary": summary, "may_mark": may_mark},
    )
