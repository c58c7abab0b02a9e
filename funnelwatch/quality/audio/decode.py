"""Open a call recording and read it as int16 blocks, one column per channel.

Supported without extra software:
- WAV (RIFF) with PCM 8/16/24/32-bit, IEEE float, G.711 µ-law or A-law, including
  WAVE_FORMAT_EXTENSIBLE headers; any sample rate, any channel count;
- headerless Asterisk formats by extension: ``.ulaw``/``.ul``/``.pcmu`` (µ-law),
  ``.alaw``/``.al``/``.pcma`` (A-law), ``.sln``/``.raw`` (16-bit little-endian), all
  8 kHz mono.

The samples are decoded by libsndfile (``soundfile``), reading the audio data as RAW
with the subtype the header names (``PCM_16``, ``FLOAT``, ``ULAW``, ``ALAW``…); the header
itself is read here, so a damaged file gets an error naming what is wrong with it, and
files whose header never got its sizes patched (streaming writers) are read to the end.
MP3 (and anything else) goes through ``ffmpeg`` when it is installed; MP3 falls back to
libsndfile when its build decodes MP3 (1.1+); without either the error says so. Reading
never loads the whole file: :meth:`AudioSource.blocks` yields fixed-size blocks, so
memory stays flat however long the call was.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile


class AudioError(Exception):
    """A recording that cannot be decoded; the message says why, for a person."""


FMT_PCM = 0x0001
FMT_FLOAT = 0x0003
FMT_ALAW = 0x0006
FMT_ULAW = 0x0007
FMT_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {FMT_PCM: "pcm", FMT_FLOAT: "float", FMT_ALAW: "alaw", FMT_ULAW: "ulaw"}
_RAW_EXTENSIONS = {
    ".ulaw": "ulaw",
    ".ul": "ulaw",
    ".pcmu": "ulaw",
    ".mulaw": "ulaw",
    ".alaw": "alaw",
    ".al": "alaw",
    ".pcma": "alaw",
    ".sln": "pcm",
    ".raw": "pcm",
}
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers that never patched the header
# (codec, bits per sample) -> libsndfile's RAW subtype. 8-bit PCM in WAV is unsigned.
_SUBTYPES = {
    ("pcm", 8): "PCM_U8",
    ("pcm", 16): "PCM_16",
    ("pcm", 24): "PCM_24",
    ("pcm", 32): "PCM_32",
    ("float", 32): "FLOAT",
    ("float", 64): "DOUBLE",
    ("ulaw", 8): "ULAW",
    ("alaw", 8): "ALAW",
}


class _Region(io.RawIOBase):
    """The audio data of a file (``length`` bytes from ``start``; None: to the end) as a
    file of its own, for libsndfile to read as RAW."""

    def __init__(self, fh: io.BufferedReader, start: int, length: int | None) -> None:
        super().__init__()
        self._fh, self._start, self._pos = fh, start, 0
        if length is None:
            length = fh.seek(0, io.SEEK_END) - start
        self._len = max(0, length)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = max(0, min(self._len, base + offset))
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._len - self._pos)
        if want <= 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(view[:want])
        self._pos += got
        return got


@dataclass
class AudioSource:
    """An opened recording: its format and a way to read it block by block."""

    path: Path
    sample_rate: int
    channels: int
    codec: str  # pcm / float / ulaw / alaw / mp3 ...
    bits: int
    frames: int | None  # samples per channel, when the header says (None: unknown)
    _data_offset: int = 0
    _data_bytes: int | None = None
    _ffmpeg: str | None = None
    _soundfile: bool = False

    @property
    def duration_s(self) -> float | None:
        return None if self.frames is None else self.frames / self.sample_rate

    def blocks(self, block_frames: int = 8000 * 30) -> Iterator[np.ndarray]:
        """Yield int16 arrays shaped (n, channels), n <= block_frames."""
        if self._ffmpeg:
            yield from self._ffmpeg_blocks(block_frames)
            return
        if self._soundfile:
            yield from self._soundfile_blocks(block_frames)
            return
        subtype = _SUBTYPES.get((self.codec, self.bits))
        if subtype is None:
            raise AudioError(f"{self.path.name}: unsupported sample width {self.bits} bits")
        # Floats are scaled here (libsndfile would wrap values past full scale).
        dtype = "float32" if self.codec == "float" else "int16"
        frames = 0
        with self.path.open("rb") as fh:
            region = _Region(fh, self._data_offset, self._data_bytes)
            try:
                with soundfile.SoundFile(
                    region,
                    format="RAW",
                    subtype=subtype,
                    endian="LITTLE",
                    samplerate=self.sample_rate,
                    channels=self.channels,
                ) as audio:
                    for block in audio.blocks(blocksize=block_frames, dtype=dtype, always_2d=True):
                        frames += len(block)
                        if dtype == "float32":
                            block = (np.clip(block, -1.0, 32767 / 32768) * 32768).astype(np.int16)
                        yield block
            except (RuntimeError, soundfile.LibsndfileError) as exc:
                raise AudioError(f"{self.path.name}: cannot decode it: {exc}") from None
        if self.frames is not None and frames < self.frames:
            raise AudioError(
                f"{self.path.name}: the file is truncated: the header promises "
                f"{self.frames} frames of audio, {frames} are there"
            )

    def _soundfile_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        try:
            yield from soundfile.blocks(
                str(self.path), blocksize=block_frames, dtype="int16", always_2d=True
            )
        except (RuntimeError, soundfile.LibsndfileError) as exc:
            raise AudioError(f"{self.path.name}: cannot decode it: {exc}") from None

    def _ffmpeg_blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        cmd = [
            self._ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(self.path),
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-ac",
            str(self.channels),
            "-ar",
            str(self.sample_rate),
            "-",
        ]
        frame_bytes = 2 * self.channels
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            carry = b""
            while True:
                chunk = proc.stdout.read(block_frames * frame_bytes)
                if not chunk:
                    break
                chunk = carry + chunk
                usable = len(chunk) - len(chunk) % frame_bytes
                chunk, carry = chunk[:usable], chunk[usable:]
                if chunk:
                    yield np.frombuffer(chunk, dtype="<i2").reshape(-1, self.channels)
            err = proc.stderr.read().decode("utf-8", "replace").strip()
            if proc.wait() != 0:
                raise AudioError(f"{self.path.name}: ffmpeg could not decode it: {err[:300]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def open_audio(path: str | Path, ffmpeg: str | None = None) -> AudioSource:
    """Open ``path`` and read its header; raise AudioError with a clear reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read it ({exc.strerror})") from None
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if size == 0:
        raise AudioError(f"{path.name}: the file is empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(12)
    if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return _open_wav(path, size)
    raw = _RAW_EXTENSIONS.get(path.suffix.lower())
    if raw:
        width = 2 if raw == "pcm" else 1
        return AudioSource(
            path,
            8000,
            1,
            raw,
            width * 8,
            size // width,
            _data_offset=0,
            _data_bytes=size - size % width,
        )
    if _looks_like_mp3(head) or path.suffix.lower() in (".mp3", ".ogg", ".opus", ".m4a", ".gsm"):
        return _open_ffmpeg(path, ffmpeg)
    raise AudioError(
        f"{path.name}: not a recognised audio file (expected WAV, MP3, or raw "
        ".ulaw/.alaw/.sln by extension)"
    )


def _looks_like_mp3(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _open_wav(path: Path, size: int) -> AudioSource:
    name = path.name
    with path.open("rb") as fh:
        riff = fh.read(12)
        if len(riff) < 12 or riff[8:12] != b"WAVE":
            raise AudioError(f"{name}: a RIFF file but not WAVE audio")
        if riff[:4] == b"RIFX":
            raise AudioError(f"{name}: big-endian WAV (RIFX) is not supported")
        fmt = None
        pos = 12
        ds64_data_size = None
        while True:
            header = fh.read(8)
            if len(header) < 8:
                break
            cid, csize = header[:4], struct.unpack("<I", header[4:])[0]
            body_at = pos + 8
            if cid == b"ds64":
                body = fh.read(min(csize, 28))
                if len(body) >= 16:
                    ds64_data_size = struct.unpack("<Q", body[8:16])[0]
            elif cid == b"fmt ":
                body = fh.read(csize)
                if len(body) < 16:
                    raise AudioError(f"{name}: the WAV format header is cut short")
                fmt = _parse_fmt(name, body)
            elif cid == b"data":
                if fmt is None:
                    raise AudioError(f"{name}: WAV audio data comes before its format header")
                codec, channels, rate, bits, block_align = fmt
                available = size - body_at
                if riff[:4] == b"RF64" and csize == 0xFFFFFFFF and ds64_data_size is not None:
                    csize = ds64_data_size
                if csize in _UNKNOWN_SIZES:
                    data_bytes = available - available % block_align
                elif csize > available:
                    raise AudioError(
                        f"{name}: the file is truncated: the header promises {csize} bytes "
                        f"of audio, {max(available, 0)} are there"
                    )
                else:
                    data_bytes = csize - csize % block_align
                frames = data_bytes // block_align
                return AudioSource(
                    path,
                    rate,
                    channels,
                    codec,
                    bits,
                    frames,
                    _data_offset=body_at,
                    _data_bytes=data_bytes,
                )
            pos = body_at + csize + (csize & 1)
            if pos > size:
                break
            fh.seek(pos)
    if fmt is None:
        raise AudioError(f"{name}: corrupt WAV: no format header found")
    raise AudioError(f"{name}: corrupt or truncated WAV: no audio data found")


def _parse_fmt(name: str, body: bytes) -> tuple[str, int, int, int, int]:
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == FMT_EXTENSIBLE:
        if len(body) < 26:
            raise AudioError(f"{name}: the WAV extensible format header is cut short")
        tag = struct.unpack("<H", body[24:26])[0]
    codec = _FORMAT_NAMES.get(tag)
    if codec is None:
        raise AudioError(
            f"{name}: WAV encoding 0x{tag:04x} is not supported (PCM, float, µ-law and "
            "A-law are; convert it with ffmpeg)"
        )
    if channels < 1 or rate < 1000 or rate > 384000:
        raise AudioError(f"{name}: corrupt WAV header ({channels} channels at {rate} Hz)")
    if codec == "pcm" and bits not in (8, 16, 24, 32):
        raise AudioError(f"{name}: {bits}-bit PCM is not supported (8/16/24/32 are)")
    if codec == "float" and bits not in (32, 64):
        raise AudioError(f"{name}: {bits}-bit float WAV is not supported")
    if codec in ("ulaw", "alaw"):
        bits = 8
    expected_align = bits // 8 * channels
    if block_align != expected_align:
        block_align = expected_align
    return codec, channels, rate, bits, block_align


def find_ffmpeg(configured: str | None = None) -> str | None:
    if configured:
        return shutil.which(configured) or (configured if Path(configured).exists() else None)
    return shutil.which("ffmpeg")


def _libsndfile_mp3() -> bool:
    """libsndfile 1.1+ decodes MP3 itself (the soundfile wheels ship it)."""
    return "MP3" in soundfile.available_formats()


def _open_ffmpeg(path: Path, ffmpeg: str | None) -> AudioSource:
    exe = find_ffmpeg(ffmpeg)
    if exe is None and path.suffix.lower() == ".mp3" and _libsndfile_mp3():
        try:
            info = soundfile.info(str(path))
        except (RuntimeError, soundfile.LibsndfileError) as exc:
            raise AudioError(f"{path.name}: not a readable MP3 file ({exc})") from None
        return AudioSource(
            path, info.samplerate, info.channels, "mp3", 16, info.frames or None, _soundfile=True
        )
    if exe is None:
        raise AudioError(
            f"{path.name}: decoding {path.suffix or 'this format'} needs ffmpeg, which is "
            "not installed (apt install ffmpeg); WAV and raw G.711 work without it"
        )
    probe = Path(exe).with_name("ffprobe")
    channels, rate, frames = 1, 8000, None
    if probe.exists():
        out = subprocess.run(
            [
                str(probe),
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=channels,sample_rate,duration",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            stream = json.loads(out.stdout or "{}").get("streams", [])[0]
        except (IndexError, ValueError):
            raise AudioError(f"{path.name}: ffprobe found no audio in it") from None
        channels = int(stream.get("channels") or 1)
        rate = int(stream.get("sample_rate") or 8000)
        if stream.get("duration"):
            frames = int(float(stream["duration"]) * rate)
    return AudioSource(
        path,
        rate,
        channels,
        "mp3" if path.suffix.lower() == ".mp3" else "ffmpeg",
        16,
        frames,
        _ffmpeg=exe,
    )
