"""The same last steps for every engine's clip: trim the silence at both ends, time-stretch
what the engine's own speed control could not reach, resample to the render rate, level it
(BS.1770 loudness and true peak, `loudness.level`), 16-bit. A clip is cached as it leaves
here, so a cue is measured once, not each time it is rendered.

Resampling is soxr's (a real band-limited resampler) and time-stretching Rubber Band's,
through pedalboard: both deterministic, so a clip depends only on its text and settings.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..clip import SAMPLE_RATE, Clip
from ..loudness import level

Floats = npt.NDArray[np.float32]

SILENCE_DB = -40.0
"""Quieter than this below the clip's peak counts as silence at the ends."""
LEAD_MS, TAIL_MS = 20, 50
"""Kept before the first and after the last sound: a soft onset and a decay stay whole."""


def trim(x: Floats, rate: int) -> Floats:
    """`x` without its leading and trailing silence (engines add 0.3-0.6 s of it)."""
    if not len(x):
        return x
    peak = float(np.abs(x).max())
    loud = np.flatnonzero(np.abs(x) > max(peak * 10 ** (SILENCE_DB / 20), 1e-4))
    if not len(loud):
        return x[:0]
    start = max(0, int(loud[0]) - rate * LEAD_MS // 1000)
    end = min(len(x), int(loud[-1]) + 1 + rate * TAIL_MS // 1000)
    return x[start:end]


def stretch(x: Floats, rate: int, factor: float) -> Floats:
    """`x` made `factor` times as long, pitch kept (Rubber Band)."""
    if factor == 1.0 or len(x) < rate // 20:
        return x
    import pedalboard

    out = pedalboard.time_stretch(x[np.newaxis, :], rate, stretch_factor=1.0 / factor)
    return np.ascontiguousarray(out[0], dtype=np.float32)


def resample(x: Floats, rate: int) -> Floats:
    if rate == SAMPLE_RATE or not len(x):
        return x
    import soxr

    return np.asarray(soxr.resample(x, rate, SAMPLE_RATE, quality="HQ"), dtype=np.float32)


def finish(x: Floats, rate: int, factor: float = 1.0) -> Clip:
    """An engine's samples (floats in [-1, 1] at `rate`) as the clip the renderer takes."""
    x = resample(stretch(trim(np.asarray(x, dtype=np.float32), rate), rate, factor), rate)
    return _clip(level(x))


def stretched(x: Floats, factor: float) -> Clip:
    """A finished clip's samples (at the render rate) made `factor` times as long."""
    return _clip(level(stretch(x, SAMPLE_RATE, factor)))


def _clip(x: Floats) -> Clip:
    return Clip(np.round(np.clip(x, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes())


def pcm16_floats(pcm: bytes) -> Floats:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
