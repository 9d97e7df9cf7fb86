"""The chimes: names the routine files use, and their WAV clips.

The WAVs are made by scripts/make-sounds and shipped as files, so loading needs no numpy. A
routine may also bring its own WAV files (a path inside its folder, checked by the language):
those may need converting to our format, and are kept under their absolute path.
"""

from __future__ import annotations

import difflib
import wave
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from .clip import SAMPLE_RATE, Clip, read_wav
from .errors import UsageError, VoiceguideError

NAMES: dict[str, str] = {
    "technique-start": "warm two-note rising bell: a new technique begins",
    "hold-start": "bright single high bell: a hold begins",
    "hold-end": "low bell: the hold is over",
    "switch-side": "two quick soft wood-block taps: change sides",
    "routine-end": "soft three-note descending arpeggio: the routine is over",
    "breathe-in": "soft tone gliding up: breathe in",
    "breathe-out": "soft tone gliding down: breathe out",
    "breathe-hold": "very soft steady tone: hold the breath",
}
"""Every sound, name -> what it tells the listener; the names are what routine files use."""

_PACKAGED = Path(__file__).parent / "sounds"
"""Where the wheel puts the top-level sounds/ (hatch force-include)."""
_REPO = Path(__file__).parent.parent / "sounds"
"""A source checkout or editable install, where sounds/ sits beside the package."""


def sound_dir() -> Path:
    """The installed copy wins, so a wheel never reads stray files from the working directory."""
    return _PACKAGED if _PACKAGED.is_dir() else _REPO


def shipped_files() -> list[Path]:
    """Every file shipped in the sounds folder (the chimes, the beds, their README): files the
    program reads, which nothing it writes may replace."""
    return sorted(path for path in sound_dir().rglob("*") if path.is_file())


def _check_name(name: str) -> None:
    if name in NAMES:
        return
    close = difflib.get_close_matches(name, NAMES, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(NAMES)}"
    raise UsageError(f"unknown sound {name!r}; {hint}")


MAX_FILE_S = 60
"""Longest sound file a routine may bring: a chime, not a soundtrack."""
RATES = (8000, 192_000)
"""Sample rates a routine's sound may have (Hz)."""
MAX_FILE_BYTES = MAX_FILE_S * RATES[1] * 2 * 2 + (1 << 20)
"""The largest such file: 60 s of 16-bit stereo at the highest rate, and room for metadata."""


@lru_cache(maxsize=64)
def load_file(path: Path) -> Clip:
    """A routine's own sound: a 16-bit PCM WAV, mono or stereo at any rate, made mono at ours.
    Raises ValueError for anything else. Only a regular file is opened (a FIFO would wait for a
    writer forever), and what its header claims is checked against the limits and against the
    file's own size before anything is read (a header can claim billions of frames)."""
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB: not a short sound")
        channels, rate, frames, pcm = _read_pcm(file, size)
    if len(pcm) != frames * channels * 2:
        raise ValueError(f"truncated: {len(pcm) // (2 * channels)} of {frames} frames")
    if channels == 1 and rate == SAMPLE_RATE:
        return Clip(pcm)
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        n = max(1, round(len(x) * SAMPLE_RATE / rate))
        x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    return Clip(np.round(x).astype("<i2").tobytes())


def _read_pcm(file: BinaryIO, size: int) -> tuple[int, int, int, bytes]:
    """(channels, rate, frames, samples) of an open WAV file of `size` bytes."""
    try:
        with wave.open(file, "rb") as w:
            channels, width, rate, frames = (
                w.getnchannels(),
                w.getsampwidth(),
                w.getframerate(),
                w.getnframes(),
            )
            if width != 2 or channels not in (1, 2):
                raise ValueError(
                    f"expected 16-bit mono or stereo PCM, got {channels} channel(s)"
                    f" of {8 * width}-bit"
                )
            low, high = RATES
            if not low <= rate <= high:
                raise ValueError(f"a sample rate of {rate} Hz; expected {low}-{high} Hz")
            if not 0 < frames <= MAX_FILE_S * rate:
                raise ValueError(f"must last from a moment to {MAX_FILE_S} s")
            if frames * channels * 2 > size:
                raise ValueError(
                    f"truncated: its header claims {frames} frames, more than its {size} bytes hold"
                )
            pcm = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a WAV file ({exc})") from exc
    return channels, rate, frames, pcm


@lru_cache(maxsize=len(NAMES))
def load(name: str) -> Clip:
    """The clip for `name`, read once: a routine plays the same few chimes many times."""
    if name.endswith((".wav", ".WAV")) and Path(name).is_absolute():
        return load_file(Path(name))
    _check_name(name)
    path = sound_dir() / f"{name}.wav"
    try:
        return read_wav(path)
    except (OSError, ValueError) as exc:
        raise VoiceguideError(
            f"sound {name!r} is missing or damaged ({exc}); reinstall voiceguide, "
            "or run scripts/make-sounds in a source checkout"
        ) from exc


def duration_ms(name: str) -> int:
    """How long the chime lasts, so the compiler can leave room for it."""
    return load(name).duration_ms
