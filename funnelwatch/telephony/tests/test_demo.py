from __future__ import annotations

import datetime as dt
import io
import random

import numpy as np
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
    recs = Recording.objects.filter(status="stored")
    assert recs.count() == demo.RECORDINGS
    data, rate_hz = soundfile.read(io.BytesIO(recs.first().file.read()))
    assert data.ndim == 2 and data.shape[1] == 2 and rate_hz == 8000
    assert 3 <= len(data) / rate_hz <= 6
    assert timezone.is_aware(Call.objects.first().started_at)


def test_synth_kinds_differ():
    def rms(kind):
        data, _ = soundfile.read(io.BytesIO(demo.synth_wav(kind, 4, seed=3)))
        return np.sqrt((data**2).mean(axis=0))

    silent, talk = rms("silent"), rms("talkative")
    assert silent.max() < 0.01
    assert talk[0] > talk[1] * 2  # the manager's channel carries most speech
