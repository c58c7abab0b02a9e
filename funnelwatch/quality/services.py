"""Writers of the quality app: recording analysis, review sampling, reviews, the library."""

from __future__ import annotations

import datetime as dt
import logging
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from funnelwatch import metrics
from funnelwatch.audit.trail import acting_as
from funnelwatch.quality.audio import AudioError, analyze_file
from funnelwatch.quality.models import (
    Checklist,
    Criterion,
    ExemplaryCall,
    RecordingAnalysis,
    Review,
    ReviewAnswer,
    ReviewComment,
    ReviewQueueItem,
    ScriptStage,
)

logger = logging.getLogger("funnelwatch.quality")
ANALYZER_VERSION = "fw-1"
METRIC_FIELDS = (
    "duration_s",
    "channels",
    "sample_rate",
    "stereo",
    "manager_speech_s",
    "client_speech_s",
    "talk_ratio",
    "talk_share_of_call",
    "silence_pct",
    "long_silences",
    "longest_monologue_manager_s",
    "longest_monologue_client_s",
    "switches_per_min",
    "patience_s",
    "interruptions",
    "overtalk_pct",
    "noise_level_db",
)


class ReviewError(ValueError):
    pass


# ---------------------------------------------------------------------- analysis


@contextmanager
def _local_path(recording) -> Iterator[Path]:
    """A filesystem path for the recording's file (copied out of remote storage)."""
    if not recording.file:
        raise AudioError(_("the recording has no file yet"))
    try:
        local = Path(recording.file.path)
    except NotImplementedError:  # remote storage: copy it out
        local = None
    if local is not None:
        yield local
        return
    suffix = Path(recording.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with recording.file.open("rb") as src:
            shutil.copyfileobj(src, tmp)
        tmp.flush()
        yield Path(tmp.name)


def _keys() -> list[str]:
    """The rolled numbers of the quality block: what an analysis, a review or the review
    queue can change."""
    return [m.key for m in metrics.registry.by_block("quality") if m.rolled]


def analyze_recording(recording, vad: str | None = None) -> RecordingAnalysis:
    """Analyse one stored recording and save the result; a file that cannot be decoded
    gives an analysis with the error and no metrics. The call is never changed."""
    values: dict = {"analyzer": ANALYZER_VERSION, "analyzed_at": timezone.now()}
    try:
        with _local_path(recording) as path:
            result = analyze_file(
                path,
                manager_channel=recording.manager_channel or "left",
                vad=vad or settings.FUNNELWATCH_QUALITY_VAD,
                ffmpeg=settings.FUNNELWATCH_FFMPEG or None,
            )
    except Exception as exc:  # any failure stays on this recording; the queue goes on
        if not isinstance(exc, AudioError | ValueError | OSError):
            logger.exception("analysis of recording %s failed", recording.pk)
        values.update(
            {f: None for f in METRIC_FIELDS},
            stereo=False,
            status="failed",
            error=str(exc),
            vad="",
            flags=[],
            flagged=False,
            segments={},
        )
    else:
        data = result.as_dict()
        values.update(
            {f: data[f] for f in METRIC_FIELDS},
            status="ok",
            error="",
            vad=result.vad,
            flags=result.flags,
            flagged=bool(result.flags),
            segments=result.segments,
        )
    with transaction.atomic():
        analysis, _created = RecordingAnalysis.objects.update_or_create(
            recording=recording, defaults=values
        )
        call = recording.call
        metrics.changed("quality", [call.manager_id], [call.started_at], keys=_keys())
    return analysis


def analyze_existing(
    since: str | None = None, call_id: int | None = None, force: bool = False, out=None
) -> tuple[int, int]:
    """Analyse stored recordings (those without an analysis, or all with ``force``)."""
    from funnelwatch.telephony.models import Recording

    qs = Recording.objects.filter(status="stored").select_related("call").order_by("id")
    if since:
        day = parse_date(since)
        if day is None:
            raise ValueError(_("--since must be a date, YYYY-MM-DD"))
        tz = timezone.get_current_timezone()
        qs = qs.filter(call__started_at__gte=dt.datetime.combine(day, dt.time.min, tzinfo=tz))
    if call_id:
        qs = qs.filter(call_id=call_id)
    if not force:
        qs = qs.filter(analysis__isnull=True)
    done = failed = 0
    for recording in qs.iterator():
        analysis = analyze_recording(recording)
        if analysis.status == "ok":
            done += 1
        else:
            failed += 1
            if out is not None:
                out.write(f"call {recording.call_id}: {analysis.error}")
    return done, failed


# ---------------------------------------------------------------------- sampling


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def sample_week(
    monday: dt.date, per_manager: int | None = None, min_duration_s: int | None = None
) -> int:
    """Queue this week's calls for review: every flagged call, plus ``per_manager`` random
    answered calls over ``min_duration_s`` per manager. Idempotent: running it again only
    tops a manager's sample up to ``per_manager``."""
    from funnelwatch.telephony.models import Call

    per_manager = (
        settings.FUNNELWATCH_QUALITY_SAMPLE_PER_WEEK if per_manager is None else per_manager
    )
    min_duration_s = (
        settings.FUNNELWATCH_QUALITY_SAMPLE_MIN_S if min_duration_s is None else min_duration_s
    )
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=7)
    calls = Call.objects.filter(
        started_at__gte=start,
        started_at__lt=end,
        outcome="answered",
        manager__isnull=False,
        recording__status="stored",
    ).values("id", "manager_id", "talk_seconds", "duration_s", "recording__analysis__flagged")
    queued = set(ReviewQueueItem.objects.filter(week=monday).values_list("call_id", flat=True))
    sampled: dict[int, int] = {}
    for item in ReviewQueueItem.objects.filter(week=monday, reason="sampled"):
        sampled[item.manager_id] = sampled.get(item.manager_id, 0) + 1
    new: list[ReviewQueueItem] = []
    candidates: dict[int, list[int]] = {}
    for row in calls:
        if row["id"] in queued:
            continue
        if row["recording__analysis__flagged"]:
            new.append(
                ReviewQueueItem(
                    call_id=row["id"], manager_id=row["manager_id"], week=monday, reason="flagged"
                )
            )
            queued.add(row["id"])
        elif (row["talk_seconds"] or row["duration_s"] or 0) > min_duration_s:
            candidates.setdefault(row["manager_id"], []).append(row["id"])
    for manager_id, ids in sorted(candidates.items()):
        room = per_manager - sampled.get(manager_id, 0)
        if room <= 0:
            continue
        rng = random.Random(f"{monday.isoformat()}:{manager_id}")
        ids.sort()
        for call_id in rng.sample(ids, min(room, len(ids))):
            new.append(
                ReviewQueueItem(
                    call_id=call_id, manager_id=manager_id, week=monday, reason="sampled"
                )
            )
    with transaction.atomic():
        ReviewQueueItem.objects.bulk_create(new, ignore_conflicts=True)
        started = dict(
            Call.objects.filter(pk__in=[item.call_id for item in new]).values_list(
                "pk", "started_at"
            )
        )
        for item in new:
            metrics.changed("quality", [item.manager_id], [started[item.call_id]], keys=_keys())
    return len(new)


# ---------------------------------------------------------------------- reviews


def answer_score(criterion: Criterion, value: str) -> float | None:
    """The 0..1 score of one answer; None for "not applicable" (empty)."""
    value = (value or "").strip()
    if value in ("", "na"):
        return None
    if criterion.kind == Criterion.Kind.YES_NO:
        if value not in ("yes", "no"):
            raise ReviewError(_("answer yes or no"))
        return 1.0 if value == "yes" else 0.0
    if criterion.kind == Criterion.Kind.SCALE:
        try:
            number = int(value)
        except ValueError:
            raise ReviewError(_("a number is expected")) from None
        if not 0 <= number <= criterion.scale_max:
            raise ReviewError(_("out of the scale"))
        return number / criterion.scale_max if criterion.scale_max else 0.0
    for option in criterion.options:
        if option.get("label") == value:
            return float(option.get("score", 0))
    raise ReviewError(_("not one of the choices"))


def weighted_score(pairs: list[tuple[int, float | None]]) -> float | None:
    """Score in percent from (weight, 0..1 score) pairs, not-applicable ones left out."""
    total = sum(w for w, s in pairs if s is not None)
    if not total:
        return None
    return round(100.0 * sum(w * s for w, s in pairs if s is not None) / total, 1)


@transaction.atomic
def save_review(
    call,
    checklist: Checklist,
    reviewer,
    answers: dict[int, str],
    comments: list[tuple[float, str]] = (),
    summary: str = "",
    at: dt.datetime | None = None,
) -> Review:
    """Create or replace ``reviewer``'s review of ``call``; new comments are added."""
    if call.manager_id is None:
        raise ReviewError(_("the call has no manager to review"))
    criteria = list(checklist.criteria.all())
    scored = []
    for criterion in criteria:
        try:
            scored.append(
                (
                    criterion,
                    answers.get(criterion.pk, ""),
                    answer_score(criterion, answers.get(criterion.pk, "")),
                )
            )
        except ReviewError as exc:
            raise ReviewError(f"{criterion.text}: {exc}") from None
    review, _created = Review.objects.update_or_create(
        call=call,
        reviewer=reviewer,
        defaults={
            "checklist": checklist,
            "manager_id": call.manager_id,
            "summary": summary,
            "score": weighted_score([(c.weight, s) for c, _v, s in scored]),
        },
    )
    if at is not None:
        Review.objects.filter(pk=review.pk).update(created_at=at)
        review.created_at = at
    review.answers.all().delete()
    ReviewAnswer.objects.bulk_create(
        ReviewAnswer(review=review, criterion=c, value=v, score=s) for c, v, s in scored
    )
    ReviewComment.objects.bulk_create(
        ReviewComment(review=review, at_s=max(0.0, float(at)), text=text.strip())
        for at, text in comments
        if text and text.strip()
    )
    metrics.changed("quality", [call.manager_id], [call.started_at], keys=_keys())
    return review


def add_comment(review: Review, at_s: float, text: str) -> ReviewComment:
    if not text.strip():
        raise ReviewError(_("the comment is empty"))
    return ReviewComment.objects.create(review=review, at_s=max(0.0, at_s), text=text.strip())


def mark_exemplary(call, user, stages: list[str], note: str = "") -> ExemplaryCall:
    bad = [s for s in stages if s not in ScriptStage.values]
    if bad:
        raise ReviewError(_("unknown script stage"))
    with acting_as(user):
        item, _created = ExemplaryCall.objects.update_or_create(
            call=call, defaults={"stages": stages, "note": note, "added_by": user}
        )
    return item


def parse_criteria(text: str) -> list[dict]:
    """Checklist criteria from lines ``stage | weight | type | text [| options]``:
    type is yes_no, scale:N or choice; choice options are ``label=score;label=score``
    with scores 0..1. Errors name the line."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 4:
            raise ReviewError(
                _("line %(n)d: expected stage | weight | type | text") % {"n": number}
            )
        stage, weight, kind, label = parts[:4]
        if stage not in ScriptStage.values:
            raise ReviewError(_("line %(n)d: unknown stage %(s)s") % {"n": number, "s": stage})
        if not weight.isdigit() or int(weight) < 1:
            raise ReviewError(
                _("line %(n)d: weight must be a whole number of 1 or more") % {"n": number}
            )
        row = {
            "stage": stage,
            "weight": int(weight),
            "text": label,
            "scale_max": 5,
            "options": [],
            "kind": kind,
        }
        if kind.startswith("scale"):
            row["kind"] = "scale"
            top = kind.partition(":")[2] or "5"
            if not top.isdigit() or int(top) < 1:
                raise ReviewError(_("line %(n)d: scale:N needs N of 1 or more") % {"n": number})
            row["scale_max"] = int(top)
        elif kind == "choice":
            options = []
            for item in (parts[4] if len(parts) > 4 else "").split(";"):
                name, _eq, score = item.partition("=")
                try:
                    value = float(score)
                except ValueError:
                    value = -1
                if not name.strip() or not 0 <= value <= 1:
                    raise ReviewError(
                        _("line %(n)d: choices are label=score with a score 0..1") % {"n": number}
                    )
                options.append({"label": name.strip(), "score": value})
            row["options"] = options
        elif kind != "yes_no":
            raise ReviewError(_("line %(n)d: type is yes_no, scale:N or choice") % {"n": number})
        rows.append(row)
    if not rows:
        raise ReviewError(_("a checklist needs at least one criterion"))
    return rows


@transaction.atomic
def create_checklist(name: str, criteria_text: str, user) -> Checklist:
    rows = parse_criteria(criteria_text)
    checklist = Checklist.objects.create(name=name.strip() or _("Checklist"), created_by=user)
    Criterion.objects.bulk_create(
        Criterion(checklist=checklist, position=i, **row) for i, row in enumerate(rows)
    )
    return checklist
