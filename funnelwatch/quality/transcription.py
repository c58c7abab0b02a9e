"""Optional local speech-to-text, one channel at a time, with tracked-phrase counting.

Off by default. An administrator turns it on by installing ``vosk`` and pointing
``FUNNELWATCH_VOSK_MODEL_DIR`` at a model folder they downloaded and unpacked
themselves; the product never downloads anything. Any object with ``name`` and
``new_stream(sample_rate)`` (returning ``feed(int16 samples)`` / ``text()``) can serve
as a backend, which is how the tests run without a model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _

from funnelwatch.quality.audio import open_audio


class Stream(Protocol):
    def feed(self, samples: np.ndarray) -> None: ...

    def text(self) -> str: ...


class Backend(Protocol):
    name: str

    def new_stream(self, sample_rate: int) -> Stream: ...


class VoskBackend:
    name = "vosk"

    def __init__(self, model_dir: str) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(model_dir)

    def new_stream(self, sample_rate: int) -> Stream:
        import json

        recognizer = self._vosk.KaldiRecognizer(self._model, sample_rate)
        parts: list[str] = []

        class _S:
            def feed(self, samples: np.ndarray) -> None:
                if recognizer.AcceptWaveform(samples.astype("<i2").tobytes()):
                    parts.append(json.loads(recognizer.Result()).get("text", ""))

            def text(self) -> str:
                parts.append(json.loads(recognizer.FinalResult()).get("text", ""))
                return " ".join(p for p in parts if p)

        return _S()


def status() -> dict:
    """Whether transcription is on, and a sentence saying so."""
    folder = settings.FUNNELWATCH_VOSK_MODEL_DIR
    if not folder:
        return {
            "enabled": False,
            "message": _(
                "Transcription is off: no speech-to-text model is configured "
                "(FUNNELWATCH_VOSK_MODEL_DIR). Everything else works without it."
            ),
        }
    if not Path(folder).is_dir():
        return {
            "enabled": False,
            "message": _("Transcription is off: the model folder %(path)s does not exist.")
            % {"path": folder},
        }
    try:
        import vosk  # noqa: F401
    except ImportError:
        return {
            "enabled": False,
            "message": _("Transcription is off: the vosk package is not installed."),
        }
    return {
        "enabled": True,
        "message": _("Transcription is on (Vosk, %(path)s).") % {"path": folder},
    }


_BACKEND: Backend | None = None


def get_backend() -> Backend | None:
    global _BACKEND
    if not status()["enabled"]:
        return None
    if _BACKEND is None:
        _BACKEND = VoskBackend(settings.FUNNELWATCH_VOSK_MODEL_DIR)
    return _BACKEND


def transcribe_file(path: str | Path, backend: Backend, manager_channel: str = "left") -> dict:
    """Texts per party: {"manager": ..., "client": ...} for stereo, {"speech": ...} mono."""
    src = open_audio(path, ffmpeg=settings.FUNNELWATCH_FFMPEG or None)
    nch = min(src.channels, 2)
    streams = [backend.new_stream(src.sample_rate) for _ in range(nch)]
    for block in src.blocks(src.sample_rate * 10):
        for ch in range(nch):
            streams[ch].feed(np.ascontiguousarray(block[:, ch]))
    texts = [s.text() for s in streams]
    if nch == 1:
        return {"speech": texts[0]}
    mi = 0 if manager_channel == "left" else 1
    return {"manager": texts[mi], "client": texts[1 - mi]}


def find_phrases(texts: dict[str, str], phrases) -> list[dict]:
    """Count each tracked phrase (case-insensitive, whole words) in the right party's text."""
    hits = []
    for phrase in phrases:
        pattern = re.compile(r"(?<!\w)" + re.escape(phrase.phrase.lower()) + r"(?!\w)")
        for speaker, text in texts.items():
            if phrase.speaker not in ("any", speaker) and speaker != "speech":
                continue
            count = len(pattern.findall(text.lower()))
            if count:
                hits.append(
                    {
                        "label": phrase.label,
                        "phrase": phrase.phrase,
                        "speaker": speaker,
                        "count": count,
                    }
                )
    return hits


def transcribe_recording(recording, backend: Backend | None = None):
    """Transcribe a stored recording and record tracked phrases; None when off."""
    from funnelwatch.quality.models import TrackedPhrase, Transcript
    from funnelwatch.quality.services import _local_path

    backend = backend or get_backend()
    if backend is None:
        return None
    with _local_path(recording) as path:
        texts = transcribe_file(path, backend, recording.manager_channel or "left")
    hits = find_phrases(texts, TrackedPhrase.objects.filter(active=True))
    transcript, _created = Transcript.objects.update_or_create(
        recording=recording, defaults={"backend": backend.name, "texts": texts, "hits": hits}
    )
    return transcript
