from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from funnelwatch.core import params
from funnelwatch.quality import queries, services, transcription
from funnelwatch.quality.models import Checklist, Review, ScriptStage
from funnelwatch.telephony import recordings


def _seconds(text: str) -> float | None:
    """ "83", "83.5" or "1:23" as seconds."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if ":" in text:
            minutes, _sep, seconds = text.partition(":")
            return int(minutes) * 60 + float(seconds)
        return float(text)
    except ValueError:
        return None


def _timeline(analysis, duration: float, comments) -> dict | None:
    if analysis is None or analysis.status != "ok" or not duration:
        return None
    names = {"manager": _("Manager"), "client": _("Client"), "speech": _("Speech")}
    rows = []
    for key in ("manager", "client", "speech"):
        if key in analysis.segments:
            bars = [
                {
                    "left": round(100 * s / duration, 3),
                    "width": round(100 * (e - s) / duration, 3),
                    "start": s,
                    "end": e,
                }
                for s, e in analysis.segments[key]
            ]
            rows.append({"key": key, "label": names[key], "bars": bars})
    marks = [
        {"left": round(100 * min(c.at_s, duration) / duration, 3), "at": c.at_s, "text": c.text}
        for c in comments
    ]
    return {"rows": rows, "marks": marks, "duration": duration}


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    if not queries.can_review(request.user):
        raise PermissionDenied
    week = params.day(request.GET, "week")
    items = queries.queue(request.user, services.week_start(week) if week else None)
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    return render(request, "quality/queue.html", {"page": page, "week": week})


@login_required
def call_review(request: HttpRequest, call_id: int) -> HttpResponse:
    user = request.user
    call = queries.call_for_page(user, call_id)
    if call is None:
        raise Http404
    in_scope = queries.calls_for(user).filter(pk=call.pk).exists()
    may_review = in_scope and queries.can_review(user)
    if request.method == "POST":
        if not may_review:
            raise PermissionDenied
        return _post_review(request, call)
    recording = getattr(call, "recording", None)
    analysis = getattr(recording, "analysis", None) if recording else None
    reviews = list(
        Review.objects.filter(call=call)
        .select_related("reviewer", "checklist")
        .prefetch_related("answers__criterion", "comments")
    )
    if not in_scope:
        reviews = []  # a library call from another team: the audio, not the scores
    mine = next((r for r in reviews if r.reviewer_id == user.pk), None)
    checklist = None
    if may_review:
        wanted = params.object_id(request.GET, "checklist")
        checklists = Checklist.objects.filter(active=True)
        checklist = (
            (mine.checklist if mine else None)
            or (checklists.filter(pk=wanted).first() if wanted else None)
            or checklists.first()
        )
    groups = []
    if checklist:
        answers = {a.criterion_id: a.value for a in mine.answers.all()} if mine else {}
        by_stage: dict[str, list] = {}
        for criterion in checklist.criteria.all():
            criterion.current = answers.get(criterion.pk, "")
            criterion.scale_values = [str(i) for i in range(criterion.scale_max + 1)]
            by_stage.setdefault(criterion.stage, []).append(criterion)
        labels = dict(ScriptStage.choices)
        groups = [
            {"stage": labels[s], "criteria": by_stage[s]}
            for s in ScriptStage.values
            if s in by_stage
        ]
    comments = sorted((c for r in reviews for c in r.comments.all()), key=lambda c: c.at_s)
    duration = (
        (analysis.duration_s if analysis and analysis.duration_s else None)
        or (recording.duration_s if recording and recording.duration_s else None)
        or call.duration_s
    )
    return render(
        request,
        "quality/review.html",
        {
            "call": call,
            "recording": recording,
            "analysis": analysis,
            "reviews": reviews,
            "mine": mine,
            "checklist": checklist,
            "groups": groups,
            "may_review": may_review,
            "timeline": _timeline(analysis, duration or 0, comments),
            "comments": comments,
            "stages": ScriptStage.choices,
            "transcription": transcription.status(),
            "transcript": getattr(recording, "transcript", None) if recording else None,
            "has_audio": bool(recording and recording.file),
        },
    )


def _post_review(request: HttpRequest, call) -> HttpResponse:
    action = request.POST.get("action", "review")
    back = redirect("quality:call", call_id=call.pk)
    try:
        if action == "exemplary":
            services.mark_exemplary(
                call, request.user, request.POST.getlist("stages"), request.POST.get("note", "")
            )
            messages.success(request, _("Added to the call library."))
            return back
        checklist = Checklist.objects.filter(pk=request.POST.get("checklist") or 0).first()
        if checklist is None:
            raise services.ReviewError(_("choose a checklist"))
        answers = {c.pk: request.POST.get(f"c_{c.pk}", "") for c in checklist.criteria.all()}
        comments = []
        for at, text in zip(
            request.POST.getlist("comment_at"), request.POST.getlist("comment_text"), strict=False
        ):
            if text.strip():
                seconds = _seconds(at)
                if seconds is None:
                    raise services.ReviewError(_("a comment needs the moment, as 83 or 1:23"))
                comments.append((seconds, text))
        services.save_review(
            call, checklist, request.user, answers, comments, request.POST.get("summary", "")
        )
    except services.ReviewError as exc:
        messages.error(request, str(exc))
        return back
    messages.success(request, _("Review saved."))
    return back


@login_required
def reviews(request: HttpRequest) -> HttpResponse:
    qs = queries.reviews_for(request.user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "quality/reviews.html", {"page": page})


@login_required
def report(request: HttpRequest) -> HttpResponse:
    if not queries.can_see_report(request.user):
        raise PermissionDenied
    weeks = 12
    since = timezone.localdate() - dt.timedelta(weeks=weeks)
    return render(
        request,
        "quality/report.html",
        {
            "report": queries.report(request.user, since),
            "since": since,
        },
    )


@login_required
def library(request: HttpRequest) -> HttpResponse:
    stage = params.text(request.GET, "stage") or None
    return render(
        request,
        "quality/library.html",
        {
            "items": queries.library(stage),
            "stages": ScriptStage.choices,
            "stage": stage,
        },
    )


@login_required
@require_safe
def audio(request: HttpRequest, call_id: int) -> HttpResponse:
    """The recording for the player, served and recorded as a play by
    ``telephony.recordings.serve`` (the same rule as on the call's page)."""
    call = queries.call_for_page(request.user, call_id)
    recording = getattr(call, "recording", None) if call else None
    if recording is None or not recording.file:
        raise Http404
    return recordings.serve(request, recording)


@login_required
def checklists(request: HttpRequest) -> HttpResponse:
    if not queries.can_see_report(request.user) or request.user.role == "team_lead":
        raise PermissionDenied
    if request.method == "POST":
        try:
            services.create_checklist(
                request.POST.get("name", ""), request.POST.get("criteria", ""), request.user
            )
        except services.ReviewError as exc:
            messages.error(request, str(exc))
            return render(
                request,
                "quality/checklists.html",
                {
                    "checklists": Checklist.objects.prefetch_related("criteria"),
                    "name": request.POST.get("name", ""),
                    "criteria": request.POST.get("criteria", ""),
                },
                status=400,
            )
        messages.success(request, _("Checklist created."))
        return redirect("quality:checklists")
    return render(
        request,
        "quality/checklists.html",
        {
            "checklists": Checklist.objects.prefetch_related("criteria"),
            "sample_per_week": settings.FUNNELWATCH_QUALITY_SAMPLE_PER_WEEK,
            "min_s": settings.FUNNELWATCH_QUALITY_SAMPLE_MIN_S,
        },
    )
