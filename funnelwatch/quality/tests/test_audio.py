"""Decoding and conversation metrics on synthetic recordings with known speech."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import textwrap
import warnings

import numpy as np
import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from funnelwatch.quality.audio import AudioError, Params, analyze_file, decode, open_audio, synth
from funnelwatch.quality.audio import vad as vads
from funnelwatch.quality.audio.analyze import mask_to_segments

FRAME = 0.0201  # one frame of tolerance
SPEC_MGR = [(0, 10), (21, 25)]
SPEC_CLI = [(10.5, 20), (25.2, 30)]


def call(tmp_path, duration, mgr, cli, name="call.wav", **kw):
    return synth.write_call(tmp_path / name, duration, mgr, cli, **kw)


def run(path, **kw):
    kw.setdefault("vad", "energy")
    return analyze_file(path, **kw)


# ------------------------------------------------------------------ metrics


def test_reference_dialogue_gives_the_known_metrics(tmp_path):
    a = run(call(tmp_path, 30, SPEC_MGR, SPEC_CLI))
    assert a.stereo and a.channels == 2 and a.sample_rate == 8000 and a.duration_s == 30.0
    assert a.manager_speech_s == pytest.approx(14.0, abs=2 * FRAME)
    assert a.client_speech_s == pytest.approx(14.3, abs=2 * FRAME)
    assert a.talk_ratio == pytest.approx(14.0 / 28.3, abs=0.002)
    assert a.longest_monologue_manager_s == pytest.approx(10.0, abs=FRAME)
    assert a.longest_monologue_client_s == pytest.approx(9.5, abs=FRAME)
    assert a.switches_per_min == pytest.approx(6.0)
    assert a.patience_s == pytest.approx(1.0, abs=FRAME)
    assert a.silence_pct == pytest.approx(100 * 1.7 / 30, abs=0.2)
    assert a.overtalk_pct == 0.0 and a.interruptions == 0
    assert a.flags == []
    assert a.segments["manager"] == [[0.0, 10.0], [21.0, 25.0]]
    assert a.segments["client"] == [[10.5, 20.0], [25.2, 30.0]]


def test_manager_channel_right_swaps_the_parties(tmp_path):
    a = run(call(tmp_path, 30, SPEC_MGR, SPEC_CLI), manager_channel="right")
    assert a.talk_ratio == pytest.approx(14.3 / 28.3, abs=0.002)
    assert a.longest_monologue_manager_s == pytest.approx(9.5, abs=FRAME)
    # manager (right) follows the client (left) at 10.0 -> 10.5 and 25.0 -> 25.2
    assert a.patience_s == pytest.approx(0.35, abs=FRAME)


def test_talkative_manager_and_patience(tmp_path):
    mgr = [(0, 20), (22, 40), (43, 58)]
    cli = [(20.5, 21.5), (41, 42.5)]
    a = run(call(tmp_path, 60, mgr, cli))
    assert a.talk_ratio == pytest.approx(53 / 55.5, abs=0.002)
    assert a.talk_share_of_call == pytest.approx(53 / 60, abs=0.002)
    # the client's 1 s answers are more than back-channel: turns break there
    assert a.longest_monologue_manager_s == pytest.approx(20.0, abs=FRAME)
    assert a.switches_per_min == pytest.approx(4.0)
    assert a.patience_s == pytest.approx((0.5 + 0.5) / 2, abs=FRAME)


def test_backchannel_and_short_pauses_do_not_break_a_monologue(tmp_path):
    mgr = [(0, 10), (10.8, 20), (22, 30)]  # 0.8 s pause, then a 2 s pause with "mm-hm"
    cli = [(20.5, 21.0), (31, 40)]
    a = run(call(tmp_path, 40, mgr, cli))
    assert a.longest_monologue_manager_s == pytest.approx(30.0, abs=FRAME)


def test_overtalk_and_interruptions(tmp_path):
    mgr = [(0, 10), (14, 20)]
    cli = [(8, 15)]  # client talks over the manager's end; manager cuts back in at 14
    a = run(call(tmp_path, 20, mgr, cli))
    assert a.overtalk_pct == pytest.approx(100 * 3 / 20, abs=0.2)
    assert a.interruptions == 1
    assert a.patience_s is None


def test_backchannel_inside_speech_is_not_a_switch(tmp_path):
    mgr = [(0, 20)]
    cli = [(5, 5.5), (21, 30)]
    a = run(call(tmp_path, 30, mgr, cli))
    assert a.switches_per_min == pytest.approx(2.0)  # one switch in half a minute


def test_echo_of_the_other_party_is_not_speech(tmp_path):
    x = synth.render(20, [[(0, 10)], [(10.5, 20)]], seed=3)
    bleed = x.astype(np.float32)
    bleed[:, 1] += x[:, 0] * 10 ** (-25 / 20)  # manager leaks into the client leg at -25 dB
    bleed[:, 0] += x[:, 1] * 10 ** (-25 / 20)
    a = run(synth.write_wav(tmp_path / "echo.wav", np.clip(bleed, -32768, 32767).astype(np.int16)))
    assert a.overtalk_pct == pytest.approx(0.0, abs=0.2)
    assert a.talk_ratio == pytest.approx(10 / 19.5, abs=0.003)


def test_flags(tmp_path):
    silent = run(call(tmp_path, 60, [(1, 3)], [], name="silent.wav"))
    assert "mostly_silence" in silent.flags and "mostly_noise" not in silent.flags
    short = run(call(tmp_path, 6, [(0, 3)], [(3.5, 6)], name="short.wav"))
    assert short.flags == ["too_short"]
    one = run(call(tmp_path, 60, [(0, 30), (31, 59)], [], name="one.wav"))
    assert one.flags == ["one_sided"]
    noisy = run(call(tmp_path, 60, SPEC_MGR, SPEC_CLI, name="noisy.wav", floor_db=-25))
    assert "mostly_noise" in noisy.flags and noisy.noise_level_db > -30
    clean = run(call(tmp_path, 60, *synth.dialogue(60), name="clean.wav"))
    assert clean.flags == [] and clean.noise_level_db < -60


def test_empty_digital_silence_is_mostly_silence(tmp_path):
    a = run(synth.write_wav(tmp_path / "zero.wav", np.zeros((8000 * 20, 2), np.int16)))
    assert a.flags == ["mostly_silence"] and a.silence_pct == 100.0
    assert a.talk_ratio is None and a.patience_s is None and a.noise_level_db == -100.0


def test_mono_gives_only_the_separation_free_measures(tmp_path):
    x = synth.render(30, [[(0, 10), (10.5, 20), (21, 25)]])
    a = run(synth.write_wav(tmp_path / "mono.wav", x))
    assert not a.stereo and a.channels == 1
    s = a.summary()
    for key in (
        "talk_ratio",
        "longest_monologue_manager_s",
        "longest_monologue_client_s",
        "switches_per_min",
        "patience_s",
        "overtalk_pct",
    ):
        assert s[key] is None
    assert a.silence_pct == pytest.approx(100 * 6.5 / 30, abs=0.2)
    assert a.segments == {"speech": [[0.0, 10.0], [10.5, 20.0], [21.0, 25.0]]}


def test_the_same_signal_on_both_channels_is_treated_as_mono(tmp_path):
    x = synth.render(30, [SPEC_MGR])
    a = run(synth.write_wav(tmp_path / "dual.wav", np.repeat(x, 2, axis=1)))
    assert not a.stereo and a.talk_ratio is None


def test_block_size_does_not_change_the_result(tmp_path):
    path = call(tmp_path, 95, *synth.dialogue(95, seed=4))
    whole = run(path).as_dict()
    small = run(path, params=Params(block_s=1)).as_dict()
    assert small == whole


def test_mask_to_segments_merges_and_drops():
    mask = np.zeros(100, bool)
    mask[0:20] = mask[25:50] = True  # 5-frame gap (100 ms) merges
    mask[80:85] = True  # 100 ms blip dropped
    segs = mask_to_segments(mask, 0.02, 0.3, 0.2)
    assert segs.tolist() == [[0, 50]]


# ------------------------------------------------------------------ formats


def _codes_wav(path, tag, codes, channels=1, rate=8000):
    with open(path, "wb") as fh:
        synth._write_header(fh, rate, channels, 8, tag, len(codes))
        fh.write(codes)
    return path


def _raw(tmp_path, codes: bytes, ext: str) -> np.ndarray:
    """What ``open_audio`` decodes from a headerless Asterisk file of these bytes."""
    path = tmp_path / f"codes{ext}"
    path.write_bytes(codes)
    return np.concatenate(list(open_audio(path).blocks(100)))[:, 0]


ULAW_TABLE = sf.read(
    io.BytesIO(bytes(range(256))),
    format="RAW",
    subtype="ULAW",
    samplerate=8000,
    channels=1,
    dtype="int16",
)[0]


@pytest.mark.parametrize("tag", [7, 6])  # µ-law, A-law
def test_g711_wav_decodes_like_libsndfile_reads_the_whole_file(tmp_path, tag):
    codes = bytes(range(256)) * 4
    path = _codes_wav(tmp_path / "g711.wav", tag, codes)
    reference, _ = sf.read(path, dtype="int16")
    ours = np.concatenate(list(open_audio(path).blocks(100)))[:, 0]
    assert np.array_equal(ours, reference)


def test_g711_matches_audioop_where_it_exists(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    codes = bytes(range(256))
    ulaw = np.frombuffer(audioop.ulaw2lin(codes, 2), "<i2")
    alaw = np.frombuffer(audioop.alaw2lin(codes, 2), "<i2")
    assert np.array_equal(_raw(tmp_path, codes, ".ulaw"), ulaw)
    assert np.array_equal(_raw(tmp_path, codes, ".alaw"), alaw)


def test_g711_known_values(tmp_path):
    assert _raw(tmp_path, bytes([0x00, 0x7F, 0x80, 0xFF]), ".ul").tolist() == [
        -32124,
        0,
        32124,
        0,
    ]
    assert _raw(tmp_path, bytes([0x55, 0xD5, 0x2A, 0xAA]), ".al").tolist() == [
        -8,
        8,
        -32256,
        32256,
    ]


@pytest.mark.parametrize(
    "subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "ULAW", "ALAW"]
)
def test_every_wav_encoding_gives_the_same_metrics(tmp_path, subtype):
    x = synth.render(30, [SPEC_MGR, SPEC_CLI], floor_db=-45)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x / 32768.0 if subtype == "FLOAT" else x, 8000, subtype=subtype)
    a = run(path)
    assert a.talk_ratio == pytest.approx(14.0 / 28.3, abs=0.003)
    assert a.switches_per_min == 6.0
    assert a.patience_s == pytest.approx(1.0, abs=FRAME)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_any_common_rate(tmp_path, rate):
    path = call(tmp_path, 30, SPEC_MGR, SPEC_CLI, rate=rate)
    a = run(path)
    assert a.sample_rate == rate
    assert a.longest_monologue_manager_s == pytest.approx(10.0, abs=FRAME)
    assert a.patience_s == pytest.approx(1.0, abs=FRAME)


def test_extensible_wav_header(tmp_path):
    x = synth.render(30, [SPEC_MGR, SPEC_CLI])
    path = tmp_path / "ext.wav"
    sf.write(path, x, 8000, subtype="PCM_16", format="WAVEX")
    assert run(path).switches_per_min == 6.0


def test_chunks_before_the_audio_are_skipped(tmp_path):
    ok = synth.write_wav(tmp_path / "a.wav", synth.render(30, [SPEC_MGR, SPEC_CLI])).read_bytes()
    extra = b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\0"  # odd size, padded
    data = ok[:36] + extra + ok[36:]
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    (tmp_path / "b.wav").write_bytes(data)
    assert run(tmp_path / "b.wav").switches_per_min == 6.0


def test_rf64_header(tmp_path):
    x = synth.render(30, [SPEC_MGR, SPEC_CLI]).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16)
    ds64 = struct.pack("<QQQI", 0, len(x), len(x) // 4, 0)
    data = (
        b"RF64"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"ds64"
        + struct.pack("<I", 28)
        + ds64
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
        + x
    )
    (tmp_path / "big.wav").write_bytes(data)
    a = run(tmp_path / "big.wav")
    assert a.duration_s == 30.0 and a.switches_per_min == 6.0


def test_raw_asterisk_ulaw_by_extension(tmp_path):
    x = synth.render(12, [[(1, 10)]])
    codes = np.abs(ULAW_TABLE.astype(np.int32)[None, :] - x[:, :1]).argmin(axis=1)
    path = tmp_path / "leg.ulaw"
    path.write_bytes(codes.astype(np.uint8).tobytes())
    a = run(path)
    assert a.channels == 1 and a.codec == "ulaw" and a.duration_s == 12.0
    assert a.segments["speech"] == [[1.0, 10.0]]


def test_mp3_through_libsndfile(tmp_path):
    if not decode._libsndfile_mp3():
        pytest.skip("this libsndfile has no MP3")
    path = tmp_path / "call.mp3"
    sf.write(path, synth.render(30, [SPEC_MGR, SPEC_CLI]), 8000, format="MP3")
    a = analyze_file(path, vad="energy", ffmpeg="/nonexistent/ffmpeg")
    assert a.codec == "mp3" and a.switches_per_min == 6.0


def test_mp3_through_ffmpeg(tmp_path):
    """A stand-in ffmpeg/ffprobe pair proves the pipe protocol; the real one speaks the same."""
    pcm = synth.render(30, [SPEC_MGR, SPEC_CLI])
    (tmp_path / "pcm.raw").write_bytes(pcm.astype("<i2").tobytes())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    scripts = {
        "ffmpeg": f"import sys; sys.stdout.buffer.write(open({str(tmp_path / 'pcm.raw')!r}, "
        "'rb').read())",
        "ffprobe": "import json; print(json.dumps({'streams': [{'channels': 2, "
        "'sample_rate': '8000', 'duration': '30.0'}]}))",
    }
    for name, body in scripts.items():
        exe = bindir / name
        exe.write_text(f"#!{sys.executable}\n{body}\n")
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    path = tmp_path / "call.mp3"
    path.write_bytes(b"ID3" + b"\0" * 100)
    a = analyze_file(path, vad="energy", ffmpeg=str(bindir / "ffmpeg"))
    assert a.duration_s == 30.0 and a.switches_per_min == 6.0


def test_mp3_without_a_decoder_says_ffmpeg_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "_libsndfile_mp3", lambda: False)
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    path = tmp_path / "call.mp3"
    path.write_bytes(b"ID3" + b"\0" * 100)
    with pytest.raises(AudioError, match="needs ffmpeg, which is not installed"):
        analyze_file(path)


# ------------------------------------------------------------------ bad files


def _pcm_wav(tmp_path):
    return synth.write_wav(tmp_path / "ok.wav", synth.render(5, [[(1, 3)], [(2, 4)]]))


def test_zero_length_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        analyze_file(tmp_path / "empty.wav")


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        analyze_file(tmp_path / "nope.wav")


def test_truncated_wav(tmp_path):
    path = _pcm_wav(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        analyze_file(path)


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(AudioError, match="not a recognised audio file"):
        analyze_file(path)


def test_corrupt_wav_headers(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(
        b"RIFF" + struct.pack("<I", 100) + b"WAVE" + b"junk" + struct.pack("<I", 4) + b"abcd"
    )
    with pytest.raises(AudioError, match="no format header"):
        analyze_file(path)
    path.write_bytes(b"RIFF" + struct.pack("<I", 100) + b"AVI LIST")
    with pytest.raises(AudioError, match="not WAVE"):
        analyze_file(path)
    ok = _pcm_wav(tmp_path).read_bytes()
    path.write_bytes(ok[:20] + struct.pack("<H", 0x55) + ok[22:])  # MPEG-in-WAV tag
    with pytest.raises(AudioError, match="0x0055 is not supported"):
        analyze_file(path)
    path.write_bytes(ok[:40] + struct.pack("<I", 0))  # header, no samples
    with pytest.raises(AudioError, match="no audio samples"):
        analyze_file(path)


def test_garbage_mp3(tmp_path):
    path = tmp_path / "broken.mp3"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(AudioError):
        analyze_file(path, ffmpeg="/nonexistent/ffmpeg")


def test_header_with_unknown_size_reads_to_the_end(tmp_path):
    path = _pcm_wav(tmp_path)
    data = bytearray(path.read_bytes())
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    assert analyze_file(path, vad="energy").duration_s == 5.0


# ------------------------------------------------------------------ VAD choice, CLI


def test_vad_choice():
    assert vads.choose("energy", 8000, 20)[0] == "energy"
    assert vads.choose("auto", 44100, 20)[0] == "energy"
    expected = "webrtc" if vads.webrtc_available() else "energy"
    assert vads.choose("auto", 8000, 20)[0] == expected
    with pytest.raises(ValueError):
        vads.choose("silero", 8000, 20)


@pytest.mark.skipif(not vads.webrtc_available(), reason="webrtcvad not installed")
def test_webrtc_vad_runs(tmp_path):
    a = analyze_file(call(tmp_path, 30, SPEC_MGR, SPEC_CLI), vad="webrtc")
    assert a.vad == "webrtc" and a.duration_s == 30.0


def test_analyze_file_command_prints_exactly_the_documented_json(tmp_path):
    out = io.StringIO()
    call_command(
        "quality",
        "analyze-file",
        str(call(tmp_path, 30, SPEC_MGR, SPEC_CLI)),
        "--json",
        "--vad",
        "energy",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert list(data) == [
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
    ]
    assert data["switches_per_min"] == 6.0 and data["flags"] == []


def test_analyze_file_command_on_a_bad_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command("quality", "analyze-file", str(tmp_path / "x.wav"), "--json")


def test_analyze_file_command_text_output(tmp_path):
    out = io.StringIO()
    x = synth.render(30, [SPEC_MGR])
    call_command(
        "quality",
        "analyze-file",
        str(synth.write_wav(tmp_path / "m.wav", x)),
        "--vad",
        "energy",
        stdout=out,
    )
    text = out.getvalue()
    assert textwrap.dedent(text).splitlines()[0].split() == ["duration_s", "30.0"]
    assert "talk_ratio" in text and "vad" in text
