from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.files.base import ContentFile

from funnelwatch.quality.audio import synth

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def energy_vad(settings):
    # Results must not depend on whether webrtcvad happens to be installed.
    settings.FUNNELWATCH_QUALITY_VAD = "energy"
    settings.FUNNELWATCH_VOSK_MODEL_DIR = ""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def wav_bytes(
    tmp_path, duration=30.0, mgr=((0, 10), (21, 25)), cli=((10.5, 20), (25.2, 30)), **kw
) -> bytes:
    path = synth.write_call(tmp_path / f"src-{next(_ids)}.wav", duration, mgr, cli, **kw)
    return path.read_bytes()


def make_call(
    manager,
    started_at: dt.datetime,
    duration_s: int = 120,
    outcome="answered",
    content: bytes | None = None,
    status="stored",
    name="call.wav",
):
    from funnelwatch.telephony.models import Call, Recording

    n = next(_ids)
    call = Call.objects.create(
        provider="test",
        external_id=f"c{n}",
        direction="out",
        started_at=started_at,
        duration_s=duration_s,
        talk_seconds=duration_s if outcome == "answered" else 0,
        outcome=outcome,
        manager=manager,
        to_number="+15550000000",
    )
    if content is not None:
        rec = Recording(call=call, status=status, content_type="audio/wav")
        rec.file.save(name, ContentFile(content), save=False)
        rec.save()
    return call


@pytest.fixture
def checklist(world):
    from funnelwatch.quality import services

    return services.create_checklist(
        "Outbound script",
        "greeting | 1 | yes_no | Introduced themselves\n"
        "needs | 3 | scale:4 | Asked about the client's situation\n"
        "closing | 2 | choice | Next step agreed | none=0;vague=0.5;date and time=1\n",
        world.head,
    )
