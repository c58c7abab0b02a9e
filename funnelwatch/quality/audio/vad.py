"""Voice activity detectors: one per channel, fed frame blocks as the file streams by.

A detector is created for one channel with ``factory(sample_rate, frame_len)``; the
analyser calls ``feed(frames, levels_db)`` with int16 frames shaped (n, frame_len) and
their RMS levels in dBFS, then ``result()`` once for a boolean mask (one value a frame).

- ``energy`` (default, numpy only): a frame is speech when its level is above an
  adaptive threshold: the channel's noise floor (10th percentile of frame levels) plus
  15 dB, never below -50 dBFS (so near-digital silence is never speech) and never above
  -25 dBFS (so a channel where someone talks nearly all the time still finds speech).
  It keeps only the per-frame levels (4 bytes a frame), never the audio.
- ``webrtc``: Google's WebRTC VAD (the ``webrtcvad`` package) in mode 2 when installed;
  it needs 8/16/32/48 kHz and 10/20/30 ms frames.
- ``auto``: webrtc when installed and the rate suits it, otherwise energy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

WEBRTC_RATES = (8000, 16000, 32000, 48000)


class VAD(Protocol):
    name: str

    def feed(self, frames: np.ndarray, levels_db: np.ndarray) -> None: ...

    def result(self) -> np.ndarray: ...


VADFactory = Callable[[int, int], VAD]


class EnergyVAD:
    name = "energy"

    def __init__(
        self,
        sample_rate: int,
        frame_len: int,
        margin_db: float = 15.0,
        floor_db: float = -50.0,
        ceiling_db: float = -25.0,
    ) -> None:
        self.margin_db = margin_db
        self.floor_db = floor_db
        self.ceiling_db = ceiling_db
        self._levels: list[np.ndarray] = []

    def feed(self, frames: np.ndarray, levels_db: np.ndarray) -> None:
        self._levels.append(levels_db.astype(np.float32, copy=False))

    def threshold(self, levels: np.ndarray) -> float:
        if not len(levels):
            return self.floor_db
        noise = float(np.percentile(levels, 10))
        return min(max(noise + self.margin_db, self.floor_db), self.ceiling_db)

    def result(self) -> np.ndarray:
        levels = np.concatenate(self._levels) if self._levels else np.zeros(0, np.float32)
        return levels > self.threshold(levels)


class WebRtcVAD:
    name = "webrtc"

    def __init__(self, sample_rate: int, frame_len: int, mode: int = 2) -> None:
        import webrtcvad

        if sample_rate not in WEBRTC_RATES:
            raise ValueError(f"webrtc VAD needs 8/16/32/48 kHz, not {sample_rate} Hz")
        if frame_len * 1000 not in (10 * sample_rate, 20 * sample_rate, 30 * sample_rate):
            raise ValueError("webrtc VAD needs 10, 20 or 30 ms frames")
        self._vad = webrtcvad.Vad(mode)
        self._rate = sample_rate
        self._out: list[np.ndarray] = []

    def feed(self, frames: np.ndarray, levels_db: np.ndarray) -> None:
        data = np.ascontiguousarray(frames, dtype="<i2")
        is_speech, rate = self._vad.is_speech, self._rate
        self._out.append(
            np.fromiter(
                (is_speech(row.tobytes(), rate) for row in data), dtype=bool, count=len(data)
            )
        )

    def result(self) -> np.ndarray:
        return np.concatenate(self._out) if self._out else np.zeros(0, bool)


def webrtc_available() -> bool:
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        return False
    return True


def choose(name: str, sample_rate: int, frame_ms: int) -> tuple[str, VADFactory]:
    """Return (the detector's name, a per-channel factory) for ``name`` = auto/energy/webrtc."""
    if name not in ("auto", "energy", "webrtc"):
        raise ValueError(f"unknown VAD {name!r} (auto, energy or webrtc)")
    fits = sample_rate in WEBRTC_RATES and frame_ms in (10, 20, 30)
    if name == "webrtc":
        if not webrtc_available():
            raise ValueError(
                "the webrtc VAD needs the webrtcvad package (pip install webrtcvad-wheels)"
            )
        if not fits:
            raise ValueError(f"the webrtc VAD needs 8/16/32/48 kHz audio, not {sample_rate} Hz")
        return "webrtc", WebRtcVAD
    if name == "auto" and fits and webrtc_available():
        return "webrtc", WebRtcVAD
    return "energy", EnergyVAD
