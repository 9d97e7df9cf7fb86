"""Loudness: BS.1770 measurement (libebur128, through pyebur128) and a true-peak limiter.

Every cue is brought to REFERENCE_LUFS with its true peak at most SPEECH_PEAK_DBTP once, when
it is synthesized (speech.finish), and cached that way; a routine at another loudness moves
every cue by the same number of dB. So the routine's gain is known before anything is
rendered, and play (which starts before the routine is made) and export use the same one.
See docs/loudness.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .clip import SAMPLE_RATE
from .config import LUFS_RANGE, TARGET_LUFS

Floats = npt.NDArray[np.float32]

__all__ = ["LUFS_RANGE", "TARGET_LUFS", "db", "level", "measure"]

TRUE_PEAK_DBTP = -1.0
"""No export goes above this true peak."""
REFERENCE_LUFS = -16.0
"""Every cue as cached: this loudness, ..."""
SPEECH_PEAK_DBTP = -3.0
"""... its true peak at most this: the 2 dB of headroom up to TRUE_PEAK_DBTP let the routine
go 2 dB louder than the reference (LUFS_RANGE's top), or a breath tone sit under the voice."""
OVERSAMPLE = 4
"""The limiter reads the peak 4 times between samples, as libebur128 does at this rate."""
LIMIT_MS = 5
"""Half the width over which the limiter's gain moves: smooth, and ahead of the peak."""


def db(value: float) -> float:
    """A level in dB as a factor of amplitude."""
    return float(10.0 ** (value / 20.0))


def measure(x: Floats, rate: int = SAMPLE_RATE, channels: int = 1) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of `x` (frames x channels, or mono);
    -inf for silence. A clip shorter than BS.1770's 400 ms block is one block of its length."""
    import pyebur128 as r128

    state = _measured(x, rate, channels, true_peak=True)
    if state is None:
        return -math.inf, -math.inf
    peak = max(r128.get_true_peak(state, c) for c in range(channels))
    with np.errstate(divide="ignore"):
        peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    return _integrated(state, len(x), rate), peak_db


def _measured(x: Floats, rate: int, channels: int, true_peak: bool) -> Any:
    """libebur128's state with all of `x` added, or None when `x` is too short to measure
    (under 10 ms)."""
    import pyebur128 as r128

    frames = len(x)
    if frames < rate // 100:
        return None
    mode = r128.MeasurementMode.MODE_I
    if true_peak:
        mode |= r128.MeasurementMode.MODE_TRUE_PEAK
    state = r128.R128State(channels, rate, mode)
    state.add_frames(np.ascontiguousarray(x, dtype=np.float32).ravel(), frames)
    return state


def _integrated(state: Any, frames: int, rate: int) -> float:
    """The integrated loudness of what `state` measured (-inf for silence); a clip shorter
    than one 400 ms block is one block of its own length."""
    import pyebur128 as r128

    if frames < rate * 4 // 10:
        found = r128.get_loudness_window(state, frames * 1000 // rate)
    else:
        found = r128.get_loudness_global(state)
    return found if math.isfinite(found) else -math.inf


TRUE_PEAK_BOUND = 2.81
"""How far above a clip's sample peak its true peak (`peak_envelope`) can be, at most: the
largest sum of the magnitudes of one phase of soxr's 4x interpolation filter (2.80, measured
on an impulse). Under the ceiling by this much, a clip needs no true-peak work."""


def loudness(x: Floats, rate: int = SAMPLE_RATE) -> float:
    """Integrated loudness in LUFS of mono `x` (-inf for silence), without the true peak:
    a quarter of `measure`'s time."""
    state = _measured(x, rate, 1, true_peak=False)
    return -math.inf if state is None else _integrated(state, len(x), rate)


def level(x: Floats, rate: int = SAMPLE_RATE) -> Floats:
    """`x` at REFERENCE_LUFS, its true peak at most SPEECH_PEAK_DBTP: every cue equally loud,
    whatever the engine or the text. The true peak is worked out only when the sample peak
    cannot rule it out (TRUE_PEAK_BOUND), and the limiter runs only where it is over. Limiting
    takes a little loudness away, so where the limiter works the gain is raised once by what
    was lost and the dips found again. Few arrays the size of `x` at once: it runs on cues
    of minutes."""
    found = loudness(x, rate)
    if not math.isfinite(found):
        return x
    gain = REFERENCE_LUFS - found
    ceiling = db(SPEECH_PEAK_DBTP - gain)
    if float(np.abs(x).max()) * TRUE_PEAK_BOUND <= ceiling:
        return (x * np.float32(db(gain))).astype(np.float32, copy=False)
    env = peak_envelope(x, rate)
    if float(env.max()) <= ceiling:
        return (x * np.float32(db(gain))).astype(np.float32, copy=False)
    y = _limited(x, env, gain, rate)
    short = REFERENCE_LUFS - loudness(y, rate)
    if math.isfinite(short) and abs(short) >= 0.05:
        del y
        y = _limited(x, env, gain + short, rate)
    return y


def _limited(x: Floats, env: Floats, gain: float, rate: int) -> Floats:
    """`x` times `gain` dB, dipping where its peaks (`env`) would pass SPEECH_PEAK_DBTP: made
    in the dips' own array."""
    out = dips(env, SPEECH_PEAK_DBTP - gain, rate)
    np.subtract(np.float32(1.0), out, out=out)
    out *= np.float32(db(gain))
    out *= x
    return out


def peak_envelope(x: Floats, rate: int = SAMPLE_RATE) -> Floats:
    """Each sample's true peak: the largest of the oversampled values up to the next sample.
    Oversampled a second at a time (a stream), so a long cue never needs 4 times its size."""
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
        _phase_max(up, whole, env[at : at + whole])
        carry, at = up[whole * OVERSAMPLE :], at + whole
    np.maximum(env, np.abs(x), out=env)
    np.maximum(env[:-1], env[1:], out=env[:-1])  # up to the next sample (numpy buffers overlap)
    return env


def _phase_max(up: Floats, frames: int, out: Floats) -> None:
    """The largest of each OVERSAMPLE consecutive values of `up`, for `frames` frames, into
    `out`: one strided maximum per phase (a reduction along a short axis, numpy's
    `reshape(...).max(axis=1)`, is ten times slower)."""
    end = frames * OVERSAMPLE
    np.maximum(up[0:end:OVERSAMPLE], up[1:end:OVERSAMPLE], out=out)
    for phase in range(2, OVERSAMPLE):
        np.maximum(out, up[phase:end:OVERSAMPLE], out=out)


def dips(env: Floats, ceiling_dbtp: float, rate: int = SAMPLE_RATE) -> Floats:
    """How far the gain must dip at each sample so that a signal whose true peaks are `env`
    stays under `ceiling_dbtp`: smoothly, over LIMIT_MS either side of each peak (the whole
    clip is known, so the dip starts before the peak). A sample's dip depends only on the
    peaks within 2 * LIMIT_MS of it, so it is worked out only around the peaks (a fifth of a
    cue of espeak-ng's), a second at a time."""
    ceiling = np.float32(db(ceiling_dbtp))
    out = np.zeros(len(env), dtype=np.float32)
    k = max(1, rate * LIMIT_MS // 1000)
    for start, end in _around(np.flatnonzero(env > ceiling), 2 * k, len(env)):
        for lo in range(start, end, rate):
            hi = min(lo + rate, end)
            a, b = max(0, lo - 2 * k), min(len(env), hi + 2 * k)
            part = env[a:b]
            over = np.maximum(0.0, 1.0 - ceiling / np.maximum(part, 1e-9)).astype(np.float32)
            # the deepest dip needed within k samples, then a box average no wider than that
            # window: the average never dips less than what a sample needs
            deep = _sliding_max(_padded(over, k), 2 * k + 1)
            sums = np.zeros(len(deep) + 2 * k + 1)
            np.cumsum(deep, dtype=np.float64, out=sums[k + 1 : k + 1 + len(deep)])
            sums[k + 1 + len(deep) :] = sums[k + len(deep)]
            mean = (sums[2 * k + 1 :] - sums[: -2 * k - 1]) / (2 * k + 1)
            out[lo:hi] = mean[lo - a : hi - a]
    return out


def _around(peaks: npt.NDArray[np.intp], reach: int, n: int) -> list[tuple[int, int]]:
    """The stretches of samples within `reach` of a peak (sorted indices), those that touch
    merged, within [0, n): everywhere else, no peak is near enough to make the gain dip."""
    if not len(peaks):
        return []
    gaps = np.flatnonzero(np.diff(peaks) > 2 * reach)
    firsts = peaks[np.concatenate([[0], gaps + 1])]
    lasts = peaks[np.concatenate([gaps, [len(peaks) - 1]])]
    return [
        (max(0, first - reach), min(n, last + reach + 1))
        for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True)
    ]


def _padded(a: Floats, k: int) -> Floats:
    """`a` with `k` zeros either side (np.pad's own bookkeeping costs more, on short arrays)."""
    out = np.zeros(len(a) + 2 * k, dtype=a.dtype)
    out[k : k + len(a)] = a
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
