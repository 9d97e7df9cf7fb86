"""Loudness: BS.1770 (pyloudnorm) for each cue, and a true-peak limiter for a clip.

The routine's gain is known before anything is rendered: every cue is leveled to the target
loudness on its own, and the pauses between cues fall under BS.1770's gates, so the routine
measures what its speech measures. Play, which starts before the routine is made, therefore
uses exactly the gain an export does. See docs/loudness.md.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .clip import SAMPLE_RATE

Floats = npt.NDArray[np.float32]

TARGET_LUFS = -16.0
"""Integrated loudness of exports and play: the usual target for spoken audio on phones."""
LUFS_RANGE = (-30.0, -12.0)
"""Targets `--loudness` accepts: quieter is lost on a phone, louder squashes the voice."""
TRUE_PEAK_DBTP = -1.0
"""No export ever goes above this true peak."""
SPEECH_PEAK_DBTP = -3.0
"""A cue's own ceiling: headroom under the routine's for a soft tone or bed under the voice."""
OVERSAMPLE = 8
"""True peak is read 8 times between samples (ffmpeg reads it at 192 kHz: about 8.7 here)."""
LIMIT_MS = 5
"""Half the width over which the limiter's gain moves: smooth, and ahead of the peak."""


def lufs(x: Floats, rate: int = SAMPLE_RATE) -> float:
    """Integrated loudness (LUFS, pyloudnorm's BS.1770-4); -inf for silence. A clip shorter
    than BS.1770's 400 ms block is measured as one block."""
    import pyloudnorm

    if len(x) < rate // 100:
        return -math.inf
    block = min(0.4, len(x) / rate)
    with np.errstate(divide="ignore"):
        value = float(pyloudnorm.Meter(rate, block_size=block).integrated_loudness(x))
    return value if math.isfinite(value) else -math.inf


def db(value: float) -> float:
    """A level in dB as a factor of amplitude."""
    return float(10.0 ** (value / 20.0))


def peak_envelope(x: Floats, rate: int = SAMPLE_RATE) -> Floats:
    """Each sample's true peak: the largest of the oversampled values up to the next sample.
    Oversampled a second at a time (a stream), so a long cue never needs 8 times its size."""
    import soxr

    if not len(x):
        return x
    stream = soxr.ResampleStream(rate, rate * OVERSAMPLE, 1, dtype="float32", quality="HQ")
    carry = np.zeros(0, dtype=np.float32)
    env = np.zeros(len(x), dtype=np.float32)
    at = 0
    for lo in range(0, len(x), rate):
        chunk = np.ascontiguousarray(x[lo : lo + rate], dtype=np.float32)
        made = stream.resample_chunk(chunk, last=lo + rate >= len(x))
        up = np.abs(np.concatenate([carry, np.asarray(made, dtype=np.float32)]))
        whole = min(len(up) // OVERSAMPLE, len(x) - at)
        env[at : at + whole] = up[: whole * OVERSAMPLE].reshape(whole, OVERSAMPLE).max(axis=1)
        carry, at = up[whole * OVERSAMPLE :], at + whole
    env = np.maximum(env, np.abs(x))
    out: Floats = np.maximum(env, np.append(env[1:], env[-1]))
    return out


def limited(x: Floats, ceiling_dbtp: float, rate: int = SAMPLE_RATE) -> Floats:
    """`x` with its true peak at most `ceiling_dbtp`: where it would go over, the gain dips
    smoothly around the peak (the whole clip is known, so no look-ahead delay)."""
    if not len(x):
        return x
    env = peak_envelope(x, rate)
    ceiling = db(ceiling_dbtp)
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-9)).astype(np.float32)
    if need.min() >= 1.0:
        return x
    k = max(1, rate * LIMIT_MS // 1000)
    padded = np.pad(need, k, mode="edge")
    low = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1).min(axis=1)
    # a box average no wider than the minimum's window never rises above what a sample needs
    box = np.ones(2 * k + 1, dtype=np.float32) / np.float32(2 * k + 1)
    smooth = np.convolve(np.pad(low, k, mode="edge"), box, mode="valid")
    return (x * smooth.astype(np.float32)).astype(np.float32)


def leveled(x: Floats, target_lufs: float, ceiling_dbtp: float) -> Floats:
    """`x` at `target_lufs`, its true peak at most `ceiling_dbtp`. Limiting takes a little
    loudness away, so the gain is raised by what was lost, a few times."""
    level = lufs(x)
    if not math.isfinite(level):
        return x
    gain = target_lufs - level
    out = x
    for _ in range(3):
        out = limited((x * np.float32(db(gain))).astype(np.float32), ceiling_dbtp)
        short = target_lufs - lufs(out)
        if not math.isfinite(short) or abs(short) < 0.05:
            break
        gain += short
    return out
