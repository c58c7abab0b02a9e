"""Analysis in the worker, the sampling rule, reviews, metrics and transcription."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from django.core.management import call_command

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import registry
from funnelwatch.quality import services, transcription
from funnelwatch.quality.models import RecordingAnalysis, Review, ReviewQueueItem, TrackedPhrase
from funnelwatch.quality.tests.conftest import make_call, wav_bytes

MONDAY = (2026, 3, 2)


def test_a_stored_recording_is_analysed_after_commit(
    world, at, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    analysis = RecordingAnalysis.objects.get(recording__call=call)
    assert analysis.status == "ok" and analysis.vad
    assert analysis.talk_ratio == pytest.approx(0.495, abs=0.002)
    assert analysis.switches_per_min == 6.0 and analysis.patience_s == pytest.approx(1.0, abs=0.02)
    assert analysis.segments["manager"][0] == [0.0, 10.0]
    assert analysis.flags == [] and not analysis.flagged


def test_pending_recordings_wait(world, at, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path), status="pending")
    assert not RecordingAnalysis.objects.exists()


def test_the_manager_channel_of_the_recording_is_used(
    world, at, tmp_path, django_capture_on_commit_callbacks
):
    from funnelwatch.telephony.models import Recording

    call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path), status="pending")
    rec = Recording.objects.get(call=call)
    rec.manager_channel = "right"
    rec.status = "stored"
    with django_capture_on_commit_callbacks(execute=True):
        rec.save()
    assert rec.analysis.talk_ratio == pytest.approx(0.505, abs=0.002)


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVEfmt ", b"not audio at all" * 9])
def test_a_bad_file_is_an_error_on_its_analysis_and_the_next_one_still_runs(
    world, at, tmp_path, content, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        bad = make_call(world.alice, at(2026, 3, 2, 10), content=content)
        good = make_call(world.alice, at(2026, 3, 2, 11), content=wav_bytes(tmp_path))
    before = bad.__class__.objects.filter(pk=bad.pk).values().get()
    failed = RecordingAnalysis.objects.get(recording__call=bad)
    assert failed.status == "failed" and failed.error and failed.talk_ratio is None
    assert RecordingAnalysis.objects.get(recording__call=good).status == "ok"
    assert bad.__class__.objects.filter(pk=bad.pk).values().get() == before


def test_an_unexpected_failure_is_kept_on_the_analysis(world, at, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise MemoryError("out of memory")

    call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    monkeypatch.setattr(services, "analyze_file", boom)
    analysis = services.analyze_recording(call.recording)
    assert analysis.status == "failed" and "out of memory" in analysis.error


def test_truncated_file_error(world, at, tmp_path, django_capture_on_commit_callbacks):
    data = wav_bytes(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        call = make_call(world.alice, at(2026, 3, 2, 10), content=data[: len(data) // 3])
    assert "truncated" in RecordingAnalysis.objects.get(recording__call=call).error


def test_analyze_command_for_old_recordings(world, at, tmp_path):
    # Recordings stored without the worker (e.g. imported before the app existed).
    old = make_call(world.alice, at(2026, 2, 1, 10), content=wav_bytes(tmp_path))
    new = make_call(world.bob, at(2026, 3, 5, 10), content=b"garbage" * 10)
    RecordingAnalysis.objects.all().delete()
    out = io.StringIO()
    call_command("quality", "analyze", "--since", "2026-03-01", stdout=out)
    assert "analysed 0, failed 1" in out.getvalue()
    assert RecordingAnalysis.objects.get(recording__call=new).status == "failed"
    call_command("quality", "analyze", "--call", str(old.pk), stdout=out)
    assert RecordingAnalysis.objects.get(recording__call=old).status == "ok"
    out = io.StringIO()
    call_command("quality", "analyze", stdout=out)
    assert "analysed 0, failed 0" in out.getvalue()
    call_command("quality", "analyze", "--force", stdout=out)
    assert "analysed 1, failed 1" in out.getvalue()


def test_the_worker_leaves_an_analysed_recording_alone(
    world, at, tmp_path, django_capture_on_commit_callbacks
):
    from funnelwatch.quality.tasks import analyze_recording

    with django_capture_on_commit_callbacks(execute=True):
        call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    result = analyze_recording.enqueue(call.recording.pk)
    assert result.return_value == "already analysed"


# ---------------------------------------------------------------------- sampling


def _week_of_calls(world, at, tmp_path, django_capture_on_commit_callbacks):
    short = wav_bytes(tmp_path, 30)
    silent = wav_bytes(tmp_path, 70, mgr=[(1, 3)], cli=[])
    with django_capture_on_commit_callbacks(execute=True):
        calls = [
            make_call(world.alice, at(2026, 3, 2 + i % 5, 10 + i), duration_s=90, content=short)
            for i in range(8)
        ]
        flagged = make_call(world.alice, at(2026, 3, 3, 9), duration_s=70, content=silent)
        brief = make_call(world.alice, at(2026, 3, 4, 9), duration_s=40, content=short)
        missed = make_call(world.alice, at(2026, 3, 4, 9), outcome="no_answer")
        bobs = [
            make_call(world.bob, at(2026, 3, 3, 10 + i), duration_s=300, content=short)
            for i in range(2)
        ]
        next_week = make_call(world.alice, at(2026, 3, 9, 10), duration_s=90, content=short)
    return calls, flagged, brief, missed, bobs, next_week


def test_sampling_rule(world, at, tmp_path, django_capture_on_commit_callbacks):
    calls, flagged, brief, missed, bobs, next_week = _week_of_calls(
        world, at, tmp_path, django_capture_on_commit_callbacks
    )
    monday = dt.date(*MONDAY)
    assert services.sample_week(monday, per_manager=5, min_duration_s=60) == 8
    items = {i.call_id: i for i in ReviewQueueItem.objects.all()}
    assert items[flagged.pk].reason == "flagged"
    alice_sampled = [
        i for i in items.values() if i.manager_id == world.alice.pk and i.reason == "sampled"
    ]
    assert len(alice_sampled) == 5 and all(
        i.call_id in {c.pk for c in calls} for i in alice_sampled
    )
    assert {i.call_id for i in items.values() if i.manager_id == world.bob.pk} == {
        c.pk for c in bobs
    }
    assert brief.pk not in items and missed.pk not in items and next_week.pk not in items
    # idempotent
    assert services.sample_week(monday, per_manager=5, min_duration_s=60) == 0
    assert ReviewQueueItem.objects.count() == 8


def test_periodic_job_samples_this_and_last_week(
    world, at, tmp_path, django_capture_on_commit_callbacks
):
    from funnelwatch.quality.periodic import sample_reviews

    _week_of_calls(world, at, tmp_path, django_capture_on_commit_callbacks)
    assert "queued" in sample_reviews(at(2026, 3, 10, 8))
    assert ReviewQueueItem.objects.filter(week=dt.date(*MONDAY)).count() == 8
    assert ReviewQueueItem.objects.filter(week=dt.date(2026, 3, 9)).count() == 1


# ---------------------------------------------------------------------- reviews


def test_review_score_is_weighted_and_skips_not_applicable(world, at, checklist):
    call = make_call(world.alice, at(2026, 3, 2, 10))
    c = {x.stage: x for x in checklist.criteria.all()}
    review = services.save_review(
        call,
        checklist,
        world.reviewer,
        {
            c["greeting"].pk: "yes",
            c["needs"].pk: "2",
            c["closing"].pk: "vague",
        },
        comments=[(12.5, "Good opening"), (0, "  ")],
    )
    # (1*1 + 3*0.5 + 2*0.5) / 6
    assert review.score == pytest.approx(58.3, abs=0.05)
    assert review.manager_id == world.alice.pk
    assert [(x.at_s, x.text) for x in review.comments.all()] == [(12.5, "Good opening")]
    review = services.save_review(call, checklist, world.reviewer, {c["greeting"].pk: "no"})
    assert review.score == 0.0 and Review.objects.count() == 1
    assert review.answers.filter(score__isnull=True).count() == 2


def test_review_rejects_bad_answers(world, at, checklist):
    call = make_call(world.alice, at(2026, 3, 2, 10))
    c = {x.stage: x for x in checklist.criteria.all()}
    for value, stage in (("7", "needs"), ("maybe", "greeting"), ("soon", "closing")):
        with pytest.raises(services.ReviewError, match=c[stage].text):
            services.save_review(call, checklist, world.reviewer, {c[stage].pk: value})
    assert not Review.objects.exists()


def test_checklist_lines_name_the_bad_line(world):
    with pytest.raises(services.ReviewError, match="line 2"):
        services.create_checklist(
            "x", "greeting | 1 | yes_no | Hello\nsmalltalk | 1 | yes_no | ?", world.head
        )
    with pytest.raises(services.ReviewError, match="line 1"):
        services.create_checklist("x", "closing | 1 | choice | Next | a=2", world.head)


def test_report_agreement_between_reviewers(world, at, checklist):
    from funnelwatch.quality import queries

    call = make_call(world.alice, at(2026, 3, 2, 10))
    c = {x.stage: x for x in checklist.criteria.all()}
    services.save_review(
        call, checklist, world.reviewer, {c["greeting"].pk: "yes", c["needs"].pk: "4"}
    )
    services.save_review(call, checklist, world.head, {c["greeting"].pk: "yes", c["needs"].pk: "2"})
    data = queries.report(world.head, dt.date(2020, 1, 1))
    assert data["agreement"]["pairs"] == 1
    assert data["agreement"]["mean_score_diff"] == pytest.approx(37.5)
    assert data["agreement"]["same_answers_pct"] == 50
    assert [r["manager"] for r in data["score_rows"]] == [world.alice]
    assert len(data["weeks"]) == 1 and data["score_rows"][0]["cells"] == [
        pytest.approx(81.2, abs=0.1)
    ]
    by_text = {r["text"]: r for r in data["criterion_rows"]}
    assert by_text["Introduced themselves"]["week_cells"] == [100]
    assert by_text["Asked about the client's situation"]["cells"] == [75]


# ---------------------------------------------------------------------- metrics


def test_quality_metrics(world, at, tmp_path, checklist, django_capture_on_commit_callbacks):
    talkative = wav_bytes(tmp_path, 60, mgr=[(0, 50)], cli=[(51, 59)])
    silent = wav_bytes(tmp_path, 60, mgr=[(1, 3)], cli=[])
    with django_capture_on_commit_callbacks(execute=True):
        a = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
        make_call(world.alice, at(2026, 3, 3, 10), content=talkative)
        make_call(world.bob, at(2026, 3, 3, 10), content=silent)
        make_call(world.bob, at(2026, 4, 3, 10), content=silent)  # outside the period
    services.sample_week(dt.date(*MONDAY), per_manager=5, min_duration_s=60)
    c = {x.stage: x for x in checklist.criteria.all()}
    services.save_review(a, checklist, world.reviewer, {c["greeting"].pk: "yes"})
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))

    def per_manager(key):
        out: dict[int, list[float]] = {}
        for p in registry.get(key).compute(period, None):
            acc = out.setdefault(p.manager_id, [0.0, 0.0])
            acc[0] += float(p.value)
            acc[1] += p.weight
        return {m: round(v / w, 3) for m, (v, w) in out.items()}

    assert per_manager("quality_talk_ratio")[world.alice.pk] == pytest.approx(
        (0.495 + 50 / 58) / 2, abs=0.003
    )
    # bob's only call is flagged (mostly silence, one-sided): not a talk-ratio sample
    assert per_manager("quality_talkative_share") == {world.alice.pk: 0.5}
    assert per_manager("quality_flagged_share") == {world.alice.pk: 0.0, world.bob.pk: 1.0}
    assert per_manager("quality_reviewed_share") == {world.alice.pk: 0.5, world.bob.pk: 0.0}
    assert per_manager("quality_review_score") == {world.alice.pk: 100.0}
    assert registry.get("quality_review_score").records(period, {world.bob.pk}).count() == 0
    assert {m.key for m in registry.by_block("quality")} >= {
        "quality_talk_ratio",
        "quality_talkative_share",
        "quality_flagged_share",
        "quality_reviewed_share",
        "quality_review_score",
    }


# ---------------------------------------------------------------------- transcription


class FakeBackend:
    name = "fake"

    def __init__(self, texts):
        self.texts = list(texts)

    def new_stream(self, sample_rate):
        text = self.texts.pop(0)
        seen = []

        class S:
            def feed(self, samples):
                assert samples.dtype == np.int16
                seen.append(len(samples))

            def text(self):
                assert sum(seen) == 30 * sample_rate
                return text

        return S()


def test_transcription_is_off_by_default_and_says_so(settings):
    state = transcription.status()
    assert not state["enabled"] and "Transcription is off" in state["message"]
    assert transcription.get_backend() is None


def test_transcription_with_a_backend_tracks_phrases(world, at, tmp_path):
    TrackedPhrase.objects.create(label="Price named", phrase="the price is", speaker="manager")
    TrackedPhrase.objects.create(label="Competitor", phrase="Acme", speaker="client")
    TrackedPhrase.objects.create(label="Never", phrase="discount", speaker="any", active=False)
    call = make_call(world.alice, at(2026, 3, 2, 10), content=wav_bytes(tmp_path))
    backend = FakeBackend(["the price is ten, THE PRICE IS fair acme", "acme offered a discount"])
    t = transcription.transcribe_recording(call.recording, backend)
    assert t.texts == {"manager": backend_texts()[0], "client": backend_texts()[1]}
    assert {(h["label"], h["speaker"], h["count"]) for h in t.hits} == {
        ("Price named", "manager", 2),
        ("Competitor", "client", 1),
    }


def backend_texts():
    return ["the price is ten, THE PRICE IS fair acme", "acme offered a discount"]
