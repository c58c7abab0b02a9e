"""Framework-free call-recording analysis: decoding, voice activity, conversation metrics."""

from .analyze import Analysis, Params, analyze_file
from .decode import AudioError, AudioSource, open_audio

__all__ = ["Analysis", "AudioError", "AudioSource", "Params", "analyze_file", "open_audio"]
