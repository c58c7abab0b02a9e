"""Conversation metrics from one recording (docs/quality.md).

1. decode in blocks to int16 per channel;
2. per channel, frame levels (dBFS) and a voice-activity mask (20 ms frames);
3. echo/crosstalk suppression: where both channels are "speech" and one is more than
   ``echo_db`` quieter than the other, the quieter one is dropped;
4. masks to segments: gaps under ``merge_gap_s`` merged, segments under
   ``min_segment_s`` dropped (no hangover, so gaps keep their length);
5. metrics from the segments.

Stereo recordings carry one party a channel (which is the manager's is a setting);
mono recordings give only the measures that need no separation (silence, noise,
speech share) and None for the others. Everything here is framework-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import vad as vads
from .decode import AudioError, open_audio

MANAGER, CLIENT, SPEECH = "manager", "client", "speech"
FLAG_ORDER = ("too_short", "mostly_silence", "mostly_noise", "one_sided")


@dataclass(frozen=True)
class Params:
    frame_ms: int = 20
    merge_gap_s: float = 0.3
    min_segment_s: float = 0.2
    echo_db: float = 12.0
    # A monologue goes on across a pause shorter than this ...
    monologue_pause_s: float = 1.0
    # ... and across a longer one (up to backchannel_max_gap_s) in which the other party
    # only said something shorter than backchannel_s ("mm-hm").
    backchannel_s: float = 1.0
    backchannel_max_gap_s: float = 3.0
    # Silences this long are hold/transfer: reported apart and left out of patience.
    long_silence_s: float = 5.0
    too_short_s: float = 10.0
    mostly_silence_pct: float = 80.0
    noise_db: float = -35.0
    one_sided_min_s: float = 1.0
    block_s: int = 30


@dataclass
class Analysis:
    duration_s: float
    channels: int
    sample_rate: int
    codec: str
    vad: str
    stereo: bool
    manager_channel: str | None
    manager_speech_s: float | None
    client_speech_s: float | None
    speech_s: float
    talk_ratio: float | None
    talk_share_of_call: float | None
    silence_pct: float
    long_silences: int
    long_silence_s: float
    longest_monologue_manager_s: float | None
    longest_monologue_client_s: float | None
    switches_per_min: float | None
    patience_s: float | None
    interruptions: int | None
    overtalk_pct: float | None
    noise_level_db: float
    flags: list[str] = field(default_factory=list)
    # {"manager": [[start, end], ...], "client": [...]} or {"speech": [...]} for mono.
    segments: dict[str, list[list[float]]] = field(default_factory=dict)

    SUMMARY_KEYS = (
        "duration_s",
        "channels",
        "sample_rate",
        "talk_ratio",
        "silence_pct",
        "longest_monologue_manager_s",
        "longest_monologue_client_s",
        "switches_per_min",
        "patience_s",
        "overtalk_pct",
        "noise_level_db",
        "flags",
    )

    def summary(self) -> dict:
        """The public per-call figures (what ``analyze-file --json`` prints)."""
        data = asdict(self)
        return {key: data[key] for key in self.SUMMARY_KEYS}

    def as_dict(self) -> dict:
        return asdict(self)


def level_db(frames: np.ndarray) -> np.ndarray:
    """RMS level of each row of int16 ``frames`` in dBFS (digital silence: -100)."""
    f = frames.astype(np.float32)
    power = np.einsum("ij,ij->i", f, f) / (frames.shape[1] * 32768.0 * 32768.0)
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power), -100.0).astype(np.float32)


def analyze_file(
    path: str | Path,
    manager_channel: str = "left",
    vad: str = "auto",
    params: Params | None = None,
    ffmpeg: str | None = None,
) -> Analysis:
    """Decode and analyse ``path``; raise AudioError when it cannot be read."""
    if manager_channel not in ("left", "right"):
        raise ValueError("manager_channel must be left or right")
    p = params or Params()
    src = open_audio(path, ffmpeg=ffmpeg)
    rate = src.sample_rate
    frame_len = max(1, round(rate * p.frame_ms / 1000))
    frame_s = frame_len / rate
    vad_name, factory = vads.choose(vad, rate, p.frame_ms)
    nch = min(src.channels, 2)
    detectors = [factory(rate, frame_len) for _ in range(nch)]
    levels: list[list[np.ndarray]] = [[] for _ in range(nch)]
    carry = np.zeros((0, nch), np.int16)
    total = 0
    identical = nch == 2
    block_frames = frame_len * max(1, p.block_s * 1000 // p.frame_ms)
    for block in src.blocks(block_frames):
        block = block[:, :nch]
        total += len(block)
        if identical and not np.array_equal(block[:, 0], block[:, 1]):
            identical = False
        if len(carry):
            block = np.concatenate([carry, block])
        n = len(block) // frame_len
        usable, carry = block[: n * frame_len], block[n * frame_len :].copy()
        if not n:
            continue
        for ch in range(nch):
            frames = np.ascontiguousarray(usable[:, ch]).reshape(n, frame_len)
            lv = level_db(frames)
            levels[ch].append(lv)
            detectors[ch].feed(frames, lv)
    if total == 0:
        raise AudioError(f"{Path(path).name}: there are no audio samples in it")
    duration = total / rate
    lv = [np.concatenate(x) if x else np.zeros(0, np.float32) for x in levels]
    masks = [d.result() for d in detectors]
    if identical:
        # The same signal on both channels: a mono mix saved as stereo.
        lv, masks, nch = lv[:1], masks[:1], 1
    if nch == 2:
        return _stereo(src, p, vad_name, manager_channel, duration, frame_s, lv, masks)
    return _mono(src, p, vad_name, duration, frame_s, lv[0], masks[0])


# ---------------------------------------------------------------------- segments


def mask_to_segments(
    mask: np.ndarray, frame_s: float, merge_gap_s: float, min_segment_s: float
) -> np.ndarray:
    """Runs of True as an (n, 2) array of [start_frame, end_frame) after merging short
    gaps and dropping short runs."""
    if not len(mask):
        return np.zeros((0, 2), np.int64)
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = edges.reshape(-1, 2)
    if not len(runs):
        return np.zeros((0, 2), np.int64)
    max_gap = round(merge_gap_s / frame_s)
    gaps = runs[1:, 0] - runs[:-1, 1]
    keep_break = gaps >= max_gap  # a gap this long separates two segments
    starts = np.concatenate([[runs[0, 0]], runs[1:, 0][keep_break]])
    ends = np.concatenate([runs[:-1, 1][keep_break], [runs[-1, 1]]])
    segs = np.stack([starts, ends], axis=1)
    min_len = round(min_segment_s / frame_s)
    return segs[(segs[:, 1] - segs[:, 0]) >= min_len]


def segments_to_mask(segs: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for start, end in segs:
        mask[start:end] = True
    return mask


def _speech_in(other: np.ndarray, start: int, end: int) -> int:
    """Frames of ``other`` segments that fall in [start, end)."""
    if not len(other):
        return 0
    s = np.clip(other[:, 0], start, end)
    e = np.clip(other[:, 1], start, end)
    return int(np.sum(e - s))


def longest_monologue(own: np.ndarray, other: np.ndarray, frame_s: float, p: Params) -> float:
    """Longest stretch of one party's speech, bridging short pauses and the other
    party's back-channel."""
    if not len(own):
        return 0.0
    pause = round(p.monologue_pause_s / frame_s)
    bc_gap = round(p.backchannel_max_gap_s / frame_s)
    bc = round(p.backchannel_s / frame_s)
    best = 0
    cur_start, cur_end = own[0]
    for start, end in own[1:]:
        gap = start - cur_end
        if gap < pause or (gap < bc_gap and _speech_in(other, cur_end, start) < bc):
            cur_end = end
            continue
        best = max(best, cur_end - cur_start)
        cur_start, cur_end = start, end
    best = max(best, cur_end - cur_start)
    return best * frame_s


def turns(mgr: np.ndarray, cli: np.ndarray) -> list[tuple[str, int, int]]:
    """The turn sequence: segments sorted by start, dropping those that lie wholly inside
    the other party's segment (back-channel over speech), same-speaker runs collapsed."""

    def contained(seg, others) -> bool:
        return bool(len(others)) and bool(
            np.any((others[:, 0] <= seg[0]) & (others[:, 1] >= seg[1]))
        )

    events = [(int(s), int(e), MANAGER) for s, e in mgr if not contained((s, e), cli)]
    events += [(int(s), int(e), CLIENT) for s, e in cli if not contained((s, e), mgr)]
    events.sort()
    out: list[list] = []
    for start, end, who in events:
        if out and out[-1][0] == who:
            out[-1][2] = max(out[-1][2], end)
        else:
            out.append([who, start, end])
    return [(w, s, e) for w, s, e in out]


def _long_silences(any_speech: np.ndarray, frame_s: float, long_s: float) -> tuple[int, float]:
    quiet = mask_to_segments(~any_speech, frame_s, 0.0, long_s)
    return len(quiet), float(np.sum(quiet[:, 1] - quiet[:, 0]) * frame_s) if len(quiet) else 0.0


def _noise_level(levels: np.ndarray, speech: np.ndarray, frame_s: float) -> float:
    """Background level of a channel: the median level of its non-speech frames, or its
    10th-percentile level when there is under a second of non-speech."""
    if not len(levels):
        return -100.0
    quiet = levels[~speech[: len(levels)]]
    if len(quiet) * frame_s >= 1.0:
        return float(np.median(quiet))
    return float(np.percentile(levels, 10))


def _r(x: float | None, nd: int) -> float | None:
    return None if x is None else round(float(x), nd)


def _segs_json(segs: np.ndarray, frame_s: float) -> list[list[float]]:
    return [[round(float(s) * frame_s, 2), round(float(e) * frame_s, 2)] for s, e in segs]


def _common_flags(duration: float, silence_pct: float, noise: float, p: Params) -> list[str]:
    flags = []
    if duration < p.too_short_s:
        flags.append("too_short")
    if silence_pct >= p.mostly_silence_pct:
        flags.append("mostly_silence")
    if noise >= p.noise_db:
        flags.append("mostly_noise")
    return flags


def _stereo(src, p, vad_name, manager_channel, duration, frame_s, lv, masks) -> Analysis:
    n = min(len(masks[0]), len(masks[1]))
    lv = [x[:n] for x in lv]
    m = [x[:n].copy() for x in masks]
    both = m[0] & m[1]
    m[0] &= ~(both & (lv[0] < lv[1] - p.echo_db))
    m[1] &= ~(both & (lv[1] < lv[0] - p.echo_db))
    mi = 0 if manager_channel == "left" else 1
    mgr = mask_to_segments(m[mi], frame_s, p.merge_gap_s, p.min_segment_s)
    cli = mask_to_segments(m[1 - mi], frame_s, p.merge_gap_s, p.min_segment_s)
    mm, cm = segments_to_mask(mgr, n), segments_to_mask(cli, n)
    mgr_s = float(mm.sum()) * frame_s
    cli_s = float(cm.sum()) * frame_s
    any_speech = mm | cm
    total_frames = max(n, 1)
    silence_pct = 100.0 * (1.0 - any_speech.sum() / total_frames) if n else 100.0
    overtalk_pct = 100.0 * (mm & cm).sum() / total_frames if n else 0.0
    n_long, long_s = _long_silences(any_speech, frame_s, p.long_silence_s)

    seq = turns(mgr, cli)
    switches = sum(1 for a, b in zip(seq, seq[1:], strict=False) if a[0] != b[0])
    gaps, interruptions = [], 0
    for a, b in zip(seq, seq[1:], strict=False):
        if a[0] == CLIENT and b[0] == MANAGER:
            gap = (b[1] - a[2]) * frame_s
            if gap < 0:
                interruptions += 1
            elif gap <= p.long_silence_s:
                gaps.append(gap)
    chan_masks = (mm, cm) if mi == 0 else (cm, mm)
    noise = max(
        _noise_level(lv[0], chan_masks[0], frame_s), _noise_level(lv[1], chan_masks[1], frame_s)
    )
    flags = _common_flags(duration, silence_pct, noise, p)
    if duration >= p.too_short_s and mgr_s >= p.one_sided_min_s and cli_s < p.one_sided_min_s:
        flags.append("one_sided")
    speech = mgr_s + cli_s
    return Analysis(
        duration_s=_r(duration, 2),
        channels=src.channels,
        sample_rate=src.sample_rate,
        codec=src.codec,
        vad=vad_name,
        stereo=True,
        manager_channel=manager_channel,
        manager_speech_s=_r(mgr_s, 2),
        client_speech_s=_r(cli_s, 2),
        speech_s=_r(float(any_speech.sum()) * frame_s, 2),
        talk_ratio=_r(mgr_s / speech, 3) if speech > 0 else None,
        talk_share_of_call=_r(mgr_s / duration, 3) if duration > 0 else None,
        silence_pct=_r(silence_pct, 1),
        long_silences=n_long,
        long_silence_s=_r(long_s, 2),
        longest_monologue_manager_s=_r(longest_monologue(mgr, cli, frame_s, p), 2),
        longest_monologue_client_s=_r(longest_monologue(cli, mgr, frame_s, p), 2),
        switches_per_min=_r(switches / (duration / 60.0), 2) if duration > 0 else None,
        patience_s=_r(sum(gaps) / len(gaps), 2) if gaps else None,
        interruptions=interruptions,
        overtalk_pct=_r(overtalk_pct, 1),
        noise_level_db=_r(noise, 1),
        flags=[f for f in FLAG_ORDER if f in flags],
        segments={MANAGER: _segs_json(mgr, frame_s), CLIENT: _segs_json(cli, frame_s)},
    )


def _mono(src, p, vad_name, duration, frame_s, lv, mask) -> Analysis:
    n = len(mask)
    segs = mask_to_segments(mask, frame_s, p.merge_gap_s, p.min_segment_s)
    sm = segments_to_mask(segs, n)
    silence_pct = 100.0 * (1.0 - sm.sum() / n) if n else 100.0
    n_long, long_s = _long_silences(sm, frame_s, p.long_silence_s)
    noise = _noise_level(lv, sm, frame_s)
    flags = _common_flags(duration, silence_pct, noise, p)
    return Analysis(
        duration_s=_r(duration, 2),
        channels=src.channels,
        sample_rate=src.sample_rate,
        codec=src.codec,
        vad=vad_name,
        stereo=False,
        manager_channel=None,
        manager_speech_s=None,
        client_speech_s=None,
        speech_s=_r(float(sm.sum()) * frame_s, 2),
        talk_ratio=None,
        talk_share_of_call=None,
        silence_pct=_r(silence_pct, 1),
        long_silences=n_long,
        long_silence_s=_r(long_s, 2),
        longest_monologue_manager_s=None,
        longest_monologue_client_s=None,
        switches_per_min=None,
        patience_s=None,
        interruptions=None,
        overtalk_pct=None,
        noise_level_db=_r(noise, 1),
        flags=[f for f in FLAG_ORDER if f in flags],
        segments={SPEECH: _segs_json(segs, frame_s)},
    )
