"""Loudness: BS.1770 (pyloudnorm) for each cue, and a true-peak limiter for a clip.

The routine's gain is known before anything is rendered: every cue is leveled to the target
loudness on its own, and the pauses between cues fall under BS.1770's gates, so the routine
measures what its speech measures. Play, which starts before the routine is made, therefore
uses exactly the gain an export does. See docs/loudness.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
OVERSAMPLE = 4
"""True peak is read 4 times between samples, as BS.1770-4 asks (ffmpeg reads it at 192 kHz:
about 8.7 here; the 2 dB from a cue's ceiling to the routine's covers the difference)."""
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


@dataclass(frozen=True, slots=True)
class Leveling:
    """How one clip is leveled: a gain, and the limiter's dips where it needs them."""

    gain_db: float
    at: npt.NDArray[np.int64]
    dip: Floats

    def apply(self, x: Floats) -> Floats:
        out: Floats = (x * np.float32(db(self.gain_db))).astype(np.float32)
        out[self.at] *= 1.0 - self.dip
        return out


def dips(env: Floats, ceiling_dbtp: float, rate: int = SAMPLE_RATE) -> Floats:
    """How far the gain must dip at each sample so that a signal whose true peaks are `env`
    stays under `ceiling_dbtp`: smoothly, over LIMIT_MS either side of each peak (the whole
    clip is known, so the dip starts before the peak). A sample's dip depends only on the
    peaks within 2 * LIMIT_MS of it, so it is worked out a second at a time, and only where
    there are peaks: a long cue never needs many arrays its size."""
    ceiling = np.float32(db(ceiling_dbtp))
    out = np.zeros(len(env), dtype=np.float32)
    k = max(1, rate * LIMIT_MS // 1000)
    for lo in range(0, len(env), rate):
        hi = min(lo + rate, len(env))
        a, b = max(0, lo - 2 * k), min(len(env), hi + 2 * k)
        part = env[a:b]
        if not (part > ceiling).any():
            continue
        over = np.maximum(0.0, 1.0 - ceiling / np.maximum(part, 1e-9)).astype(np.float32)
        # the deepest dip needed within k samples, then a box average no wider than that
        # window: the average never dips less than what a sample needs
        deep = _sliding_max(np.pad(over, k), 2 * k + 1)
        sums = np.concatenate([[0.0], np.cumsum(np.pad(deep, k), dtype=np.float64)])
        mean = (sums[2 * k + 1 :] - sums[: -2 * k - 1]) / (2 * k + 1)
        out[lo:hi] = mean[lo - a : hi - a]
    return out


def limited(x: Floats, ceiling_dbtp: float, rate: int = SAMPLE_RATE) -> Floats:
    """`x` with its true peak at most `ceiling_dbtp` (see `dips`)."""
    if not len(x):
        return x
    out: Floats = (x * (1.0 - dips(peak_envelope(x, rate), ceiling_dbtp, rate))).astype(np.float32)
    return out


def _sliding_max(a: Floats, w: int) -> Floats:
    """The largest of every w consecutive values (len(a) - w + 1 of them), in linear time:
    running maxima forward and backward within blocks of w (van Herk, Gil and Werman)."""
    n = len(a)
    blocks = -(-n // w)
    padded = np.zeros(blocks * w, dtype=np.float32)
    padded[:n] = a
    grid = padded.reshape(blocks, w)
    forward = np.maximum.accumulate(grid, axis=1).ravel()
    backward = np.maximum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    out: Floats = np.maximum(backward[: n - w + 1], forward[w - 1 : n])
    return out


def leveling(x: Floats, target_lufs: float, ceiling_dbtp: float) -> Leveling:
    """How to put `x` at `target_lufs` with its true peak under `ceiling_dbtp`. Limiting
    takes a little loudness away, so the gain is raised once by what was lost, and the dips
    found again for it. The true peak is read once: at a gain of g dB, `x`'s peaks meet a
    ceiling g dB lower. Few arrays the size of `x` at once: a cue may be minutes long."""
    level = lufs(x)
    if not math.isfinite(level):
        return Leveling(0.0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    env = peak_envelope(x)

    def sparse(gain: float) -> tuple[npt.NDArray[np.int64], Floats]:
        dip = dips(env, ceiling_dbtp - gain)
        at = np.flatnonzero(dip)
        return at, dip[at]

    gain = target_lufs - level
    at, dip = sparse(gain)
    y = x * np.float32(db(gain))
    y[at] *= 1.0 - dip
    short = target_lufs - lufs(y)
    del y
    if math.isfinite(short) and abs(short) >= 0.05:
        gain += short
        at, dip = sparse(gain)
    return Leveling(gain, at, dip)


def leveled(x: Floats, target_lufs: float, ceiling_dbtp: float) -> Floats:
    """`x` at `target_lufs`, its true peak at most `ceiling_dbtp`."""
    return leveling(x, target_lufs, ceiling_dbtp).apply(x)
