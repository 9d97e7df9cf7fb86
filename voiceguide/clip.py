"""An immutable piece of mono 16-bit PCM: what speech and sounds hand to the renderer.

Kept free of numpy so that inspecting a routine (list, show) starts fast.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from .timeline import samples_to_ms

SAMPLE_RATE = 24000
"""The rate of everything we render: the natural voice's own (hibari speaks at 24 kHz), so its
band up to 12 kHz is kept; espeak-ng's 22050 Hz and any other rate is resampled by soxr."""


@dataclass(frozen=True, slots=True)
class Clip:
    pcm: bytes
    """Mono signed 16-bit little-endian samples."""
    sample_rate: int = SAMPLE_RATE

    @property
    def frames(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> int:
        return samples_to_ms(self.frames, self.sample_rate)


def read_wav(path: Path) -> Clip:
    """Read a mono 16-bit WAV; raises ValueError for anything else (or a truncated file)."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(
                    f"{path}: expected mono 16-bit PCM, got {w.getnchannels()} channel(s) of "
                    f"{8 * w.getsampwidth()}-bit"
                )
            frames = w.getnframes()
            pcm = w.readframes(frames)
            rate = w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from exc
    if len(pcm) != 2 * frames:
        raise ValueError(f"{path}: truncated: {len(pcm) // 2} of {frames} frames")
    return Clip(pcm, rate)
