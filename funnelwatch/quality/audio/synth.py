"""Synthetic call recordings with speech at known times (tests, bench, demo).

"Speech" is noise shaped by a syllable-rate envelope at about -20 dBFS over a quiet
line floor, one party a channel, so the expected metrics are known exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

Segment = tuple[float, float]


def _write_header(fh, rate: int, channels: int, bits: int, fmt_tag: int, data_bytes: int) -> None:
    block_align = channels * bits // 8
    fh.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE")
    fh.write(
        b"fmt "
        + struct.pack(
            "<IHHIIHH", 16, fmt_tag, channels, rate, rate * block_align, block_align, bits
        )
    )
    fh.write(b"data" + struct.pack("<I", data_bytes))


def render(
    duration_s: float,
    parties: list[Iterable[Segment]],
    rate: int = 8000,
    speech_db: float = -20.0,
    floor_db: float = -65.0,
    seed: int = 0,
    start_s: float = 0.0,
    n: int | None = None,
) -> np.ndarray:
    """int16 samples shaped (n, len(parties)) for [start_s, start_s + n/rate)."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * rate) if n is None else n
    t = start_s + np.arange(n) / rate
    out = np.empty((n, len(parties)), np.int16)
    for ch, segs in enumerate(parties):
        x = rng.standard_normal(n).astype(np.float32) * (10 ** (floor_db / 20)) * 32768
        env = np.zeros(n, np.float32)
        t0, t1 = start_s, start_s + n / rate
        for a, b in segs:
            if b > t0 and a < t1:  # only the segments that touch this stretch
                lo = max(0, int(np.ceil((a - t0) * rate - 1e-9)))
                hi = min(n, int(np.ceil((b - t0) * rate - 1e-9)))
                env[lo:hi] = 1.0
        if env.any():
            syll = 0.7 + 0.3 * np.sin(2 * np.pi * 4.0 * t + ch)
            voice = rng.standard_normal(n).astype(np.float32) * (10 ** (speech_db / 20)) * 32768
            x += voice * env * syll
        out[:, ch] = np.clip(x, -32768, 32767).astype(np.int16)
    return out


def write_wav(path: str | Path, samples: np.ndarray, rate: int = 8000) -> Path:
    """16-bit PCM WAV from int16 samples shaped (n, channels)."""
    path = Path(path)
    samples = np.asarray(samples, dtype="<i2")
    if samples.ndim == 1:
        samples = samples[:, None]
    with path.open("wb") as fh:
        _write_header(fh, rate, samples.shape[1], 16, 1, samples.size * 2)
        fh.write(samples.tobytes())
    return path


def write_call(
    path: str | Path,
    duration_s: float,
    manager: Iterable[Segment],
    client: Iterable[Segment],
    rate: int = 8000,
    seed: int = 0,
    floor_db: float = -65.0,
    chunk_s: float = 60.0,
) -> Path:
    """A stereo call (manager left, client right) written in chunks, so an hour-long
    file never sits in memory."""
    path = Path(path)
    manager, client = list(manager), list(client)
    total = round(duration_s * rate)
    with path.open("wb") as fh:
        _write_header(fh, rate, 2, 16, 1, total * 4)
        done = 0
        k = 0
        while done < total:
            n = min(round(chunk_s * rate), total - done)
            block = render(
                0,
                [manager, client],
                rate=rate,
                seed=seed + k,
                floor_db=floor_db,
                start_s=done / rate,
                n=n,
            )
            fh.write(block.astype("<i2").tobytes())
            done += n
            k += 1
    return path


def dialogue(
    duration_s: float,
    manager_share: float = 0.5,
    turn_s: float = 8.0,
    gap_s: float = 0.8,
    seed: int = 0,
) -> tuple[list[Segment], list[Segment]]:
    """Alternating turns filling ``duration_s``: the manager's turns are longer when
    ``manager_share`` is high."""
    rng = np.random.default_rng(seed)
    mgr, cli = [], []
    t = 0.5
    side = 0
    while t < duration_s - 1:
        share = manager_share if side == 0 else 1 - manager_share
        length = max(0.6, float(rng.uniform(0.5, 1.5)) * turn_s * share * 2)
        end = min(t + length, duration_s - 0.5)
        (mgr if side == 0 else cli).append((t, end))
        t = end + gap_s * float(rng.uniform(0.5, 1.5))
        side = 1 - side
    return mgr, cli
