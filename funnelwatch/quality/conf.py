"""Settings of the quality app, read from the environment."""

from __future__ import annotations

from funnelwatch.lib.env import envint, envstr

# Voice activity detector: auto (webrtc when installed, else energy), energy or webrtc.
VAD = envstr("FUNNELWATCH_QUALITY_VAD", "auto")
# Which stereo channel carries the manager when the recording does not say.
MANAGER_CHANNEL = envstr("FUNNELWATCH_QUALITY_MANAGER_CHANNEL", "left")
# ffmpeg executable for MP3 and other compressed formats ("" = look it up on PATH).
FFMPEG = envstr("FUNNELWATCH_FFMPEG", "")
# Sampling rule: this many random answered calls a manager a week go to review ...
SAMPLE_PER_WEEK = envint("FUNNELWATCH_QUALITY_SAMPLE_PER_WEEK", 5)
# ... chosen among calls at least this long (seconds); flagged calls always go.
SAMPLE_MIN_DURATION_S = envint("FUNNELWATCH_QUALITY_SAMPLE_MIN_S", 60)
# Optional transcription: a Vosk model folder the administrator unpacked ("" = off).
VOSK_MODEL_DIR = envstr("FUNNELWATCH_VOSK_MODEL_DIR", "")
