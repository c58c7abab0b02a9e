from __future__ import annotations

import datetime as dt
import io
import random

import pytest
import soundfile
from django.utils import timezone

from funnelwatch.core.demo import DemoContext
from funnelwatch.crm import services
from funnelwatch.telephony import demo
from funnelwatch.telephony.models import Call, Recording

pytestmark = pytest.mark.django_db


def test_demo_generates_calls_missed_and_recordings(world, settings, tmp_path, at):
    settings.MEDIA_ROOT = tmp_path
    for i in range(10):
        owner = world.alice if i % 2 else world.bob
        services.create_contact(
            actor=owner, name=f"C{i}", owner=owner, phone_numbers=[f"+9769911{i:04d}"]
        )
    now = at(2026, 3, 27, 17)
    ctx = DemoContext(
        seed=1,
        months=1,
        managers_count=3,
        rng=random.Random(1),
        now=now,
        start=now - dt.timedelta(days=42),
        managers=[world.alice, world.bob, world.outsider],
    )
    ctx.planted["activity_drop_manager"] = "bob"
    demo.generate(ctx)
    assert Call.objects.filter(manager=world.outsider).exists()
    # the planted manager's outbound calls fall off in the last two weeks
    recent = now - dt.timedelta(days=14)

    def rate(user, since, until):
        return Call.objects.filter(
            manager=user, direction="out", started_at__gte=since, started_at__lt=until
        ).count()

    before = rate(world.bob, recent - dt.timedelta(days=28), recent) / 2
    after = rate(world.bob, recent, now)
    assert after < before * 0.5
    assert (
        rate(world.alice, recent, now)
        > rate(world.alice, recent - dt.timedelta(days=14), recent) * 0.6
    )
    never = ctx.planted["missed_calls_not_returned"]
    assert len(never) >= 3
    assert all(c.is_missed and c.callback_id is None for c in Call.objects.filter(pk__in=never))
    assert Call.objects.filter(direction="in", callback__isnull=False).exists()
    recs = Recording.objects.filter(status="stored").select_related("call")
    assert 0 < recs.count() <= demo.RECORDINGS_PER_MANAGER * 3
    rec = recs.first()
    info = soundfile.info(rec.file.path)
    assert info.channels == 2 and info.samplerate == 8000 and info.subtype == "ULAW"
    # the whole call, not a clip of it
    assert info.duration == pytest.approx(rec.call.talk_seconds, abs=0.01)
    assert info.duration >= 60
    assert timezone.is_aware(Call.objects.first().started_at)


def test_synth_kinds_differ(tmp_path):
    from funnelwatch.quality.audio.analyze import analyze_file

    def analysed(kind):
        data, share = demo.synth_call(kind, 120, seed=3)
        path = tmp_path / f"{kind}.wav"
        path.write_bytes(data)
        return analyze_file(path), share

    talkative, share = analysed("talkative")
    assert talkative.talk_ratio == pytest.approx(share, abs=0.08) and share > 0.75
    silent, share = analysed("silent")
    assert silent.talk_ratio < 0.3 and silent.silence_pct > 30
    normal, share = analysed("normal")
    assert normal.talk_ratio == pytest.approx(share, abs=0.1) and not normal.flags
    assert 0.3 < normal.talk_ratio < 0.6
    assert "mostly_noise" in analysed("noisy")[0].flags


def test_recordings_are_ulaw_wavs_that_read_back_close_to_what_was_synthesised():
    import soundfile

    data, _share = demo.synth_call("normal", 3.0, seed=5)
    info = soundfile.info(io.BytesIO(data))
    assert (info.format, info.subtype, info.channels, info.samplerate) == (
        "WAV",
        "ULAW",
        2,
        demo.RATE,
    )
    assert info.frames == 3 * demo.RATE
    assert len(data) < 3 * demo.RATE * 2 + 200  # one byte per sample and channel
