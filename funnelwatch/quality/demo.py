"""Demo part of the quality app: analysed recordings, a checklist, reviews, a library.

Runs after the telephony part. Recordings the telephony demo stored are analysed as
they are; when it stored none, a few recent answered calls get synthetic stereo
recordings whose speech is laid out to differ (a talkative manager, a balanced one, a
silent call, a noisy one, a one-sided one), so the metrics and flags show something.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile

from funnelwatch.quality import services
from funnelwatch.quality.audio import synth
from funnelwatch.quality.models import Checklist, ExemplaryCall, ReviewQueueItem

CRITERIA = """\
greeting | 1 | yes_no | Greeted, named themselves and the company
greeting | 1 | yes_no | Checked it is a good time to talk
needs | 3 | scale:5 | Asked open questions about the client's situation
needs | 2 | yes_no | Summed up the need in the client's words
presentation | 2 | scale:5 | Linked the offer to the stated need
presentation | 1 | yes_no | Named the price
objections | 3 | choice | Handled objections | ignored=0;argued=0.3;asked and answered=1
closing | 3 | choice | Next step agreed | none=0;vague=0.5;date and time=1
"""

COMMENTS = [
    "Good opening, friendly tone",
    "Talked over the client here",
    "Missed the chance to ask about the budget",
    "Nice summary of the need",
    "Price named too early",
    "Long pause: put the client on hold without saying so",
    "Strong close: date and time agreed",
]

# (manager share of speech, turn length s, profile flag)
PROFILES = {
    "talkative": (0.82, 14.0),
    "balanced": (0.45, 7.0),
    "listener": (0.35, 6.0),
}


def _synthetic_recordings(ctx, rng, limit: int = 24) -> int:
    from funnelwatch.telephony.models import Call, Recording

    calls = list(
        Call.objects.filter(
            outcome="answered", manager__isnull=False, recording__isnull=True
        ).order_by("-started_at")[:limit]
    )
    if not calls:
        return 0
    managers = sorted({c.manager_id for c in calls})
    style = {m: list(PROFILES)[i % len(PROFILES)] for i, m in enumerate(managers)}
    made = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, call in enumerate(calls):
            duration = float(min(max(call.talk_seconds or call.duration_s or 90, 45), 150))
            kind = ("silent", "noisy", "one_sided")[i // 7] if i % 7 == 3 and i < 21 else None
            seed = rng.randrange(1 << 30)
            if kind == "silent":
                mgr, cli = [(2.0, 4.0)], []
            elif kind == "one_sided":
                mgr, cli = [(1.0, duration * 0.4), (duration * 0.4 + 1, duration - 2)], []
            else:
                share, turn = PROFILES[style[call.manager_id]]
                mgr, cli = synth.dialogue(duration, manager_share=share, turn_s=turn, seed=seed)
            path = synth.write_call(
                Path(tmp) / f"{call.pk}.wav",
                duration,
                mgr,
                cli,
                seed=seed,
                floor_db=-28.0 if kind == "noisy" else -62.0,
            )
            rec = Recording(
                call=call,
                status="pending",
                content_type="audio/wav",
                duration_s=duration,
                manager_channel="left",
            )
            rec.file.save(f"demo-{call.pk}.wav", ContentFile(path.read_bytes()), save=False)
            rec.save()  # pending: analysed below, in the same process
            made += 1
    Recording.objects.filter(call__in=calls).update(status="stored")
    return made


def generate(ctx) -> None:
    from funnelwatch.telephony.models import Call, Recording

    rng = ctx.rng_for("quality")
    made = 0
    if not Recording.objects.filter(status="stored").exists():
        made = _synthetic_recordings(ctx, rng)
    analysed, failed = services.analyze_existing(force=False)
    head = next((u for u in ctx.users.values() if getattr(u, "role", "") == "head"), None)
    reviewers = [u for u in ctx.users.values() if getattr(u, "role", "") == "reviewer"]
    reviewers = reviewers or ([head] if head else [])
    checklist = Checklist.objects.filter(name="Sales call script").first()
    if checklist is None and head is not None:
        checklist = services.create_checklist("Sales call script", CRITERIA, head)
    # Sample every week that has calls.
    first = Call.objects.order_by("started_at").values_list("started_at", flat=True).first()
    queued = 0
    if first:
        monday = services.week_start(first.date())
        last = services.week_start(ctx.now.date())
        while monday <= last:
            queued += services.sample_week(monday)
            monday += dt.timedelta(days=7)
    reviews = 0
    if checklist and reviewers:
        criteria = list(checklist.criteria.all())
        items = list(
            ReviewQueueItem.objects.select_related("call", "call__recording__analysis").order_by(
                "week", "id"
            )
        )
        for n, item in enumerate(items):
            if rng.random() > 0.6:
                continue
            duration = item.call.duration_s or 60
            skill = 0.35 + 0.6 * rng.random()
            who = reviewers if len(reviewers) > 1 and n % 5 == 0 else [rng.choice(reviewers)]
            for reviewer in who:
                answers = {c.pk: _answer(c, skill, rng) for c in criteria}
                comments = [
                    (round(rng.uniform(3, max(4, duration - 3))), rng.choice(COMMENTS))
                    for _ in range(rng.randint(0, 2))
                ]
                when = min(item.call.started_at + dt.timedelta(days=rng.randint(1, 4)), ctx.now)
                services.save_review(item.call, checklist, reviewer, answers, comments, at=when)
                reviews += 1
        best = (
            ReviewQueueItem.objects.filter(call__reviews__score__gte=75)
            .values_list("call_id", flat=True)
            .distinct()[:3]
        )
        for call_id, stages in zip(
            best, (["greeting", "needs"], ["objections"], ["closing"]), strict=False
        ):
            if not ExemplaryCall.objects.filter(call_id=call_id).exists():
                ExemplaryCall.objects.create(
                    call_id=call_id,
                    stages=stages,
                    note="Listen to how the client is led",
                    added_by=head or reviewers[0],
                )
    ctx.notes.append(
        f"quality: {made} synthetic recordings, {analysed} analysed ({failed} failed), "
        f"{queued} calls queued for review, {reviews} reviews"
    )
    flagged = list(
        Call.objects.filter(recording__analysis__flagged=True).values_list("pk", flat=True)[:5]
    )
    if flagged:
        ctx.planted["quality_flagged_calls"] = flagged


def _answer(criterion, skill: float, rng) -> str:
    if criterion.kind == "yes_no":
        return "yes" if rng.random() < skill else "no"
    if criterion.kind == "scale":
        return str(
            max(
                0, min(criterion.scale_max, round(skill * criterion.scale_max + rng.uniform(-1, 1)))
            )
        )
    options = sorted(criterion.options, key=lambda o: o["score"])
    return options[min(len(options) - 1, int(skill * len(options)))]["label"]
