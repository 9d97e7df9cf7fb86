"""Leveling measures only what it needs (loudness, then the true peak where the sample peak
cannot rule it out) and gives the same clips as measuring everything first did."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide import loudness
from voiceguide.clip import SAMPLE_RATE
from voiceguide.loudness import (
    REFERENCE_LUFS,
    SPEECH_PEAK_DBTP,
    TRUE_PEAK_BOUND,
    _limited,
    measure,
    peak_envelope,
)

Floats = npt.NDArray[np.float32]


def level_measuring_everything(x: Floats, rate: int = SAMPLE_RATE) -> Floats:
    """The former path: libebur128's loudness and true peak of every clip, then the limiter
    wherever that true peak was over."""
    found, peak = measure(x, rate)
    if not math.isfinite(found):
        return x
    gain = REFERENCE_LUFS - found
    if peak + gain <= SPEECH_PEAK_DBTP:
        return (x * np.float32(loudness.db(gain))).astype(np.float32, copy=False)
    env = peak_envelope(x, rate)
    y = _limited(x, env, gain, rate)
    short = REFERENCE_LUFS - measure(y, rate)[0]
    if math.isfinite(short) and abs(short) >= 0.05:
        y = _limited(x, env, gain + short, rate)
    return y


def clips() -> list[Floats]:
    """Speech-like clips: voiced harmonics under a syllable envelope, quiet to clipping-loud,
    with a click, and a near-Nyquist tone whose true peak is far above its samples."""
    rng = np.random.default_rng(7)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    out = []
    for amplitude in (0.01, 0.1, 0.5, 0.99):
        f0 = 110 + 30 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        syllables = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None) ** 2
        x = amplitude * voiced * syllables / 2 + 0.002 * rng.standard_normal(len(t))
        out.append(np.clip(x, -1, 1).astype(np.float32))
    click = out[1].copy()
    click[SAMPLE_RATE] = 0.99
    out.append(click)
    n = np.arange(SAMPLE_RATE)
    out.append((0.5 * np.sin(np.pi * n * 0.5 + np.pi / 4)).astype(np.float32))
    return out


@pytest.mark.parametrize("index", range(6))
def test_leveling_matches_measuring_everything(index: int) -> None:
    x = clips()[index]
    new, old = loudness.level(x), level_measuring_everything(x)
    assert new.dtype == np.float32 and len(new) == len(x)
    # The same clip, or (where libebur128's and soxr's true peaks fall either side of the
    # ceiling) within 0.1 dB of it at every sample.
    scale = float(np.abs(old).max())
    assert float(np.abs(new - old).max()) <= scale * (1 - 10 ** (-0.1 / 20)), index
    (found, peak), (was, was_peak) = measure(new), measure(old)
    assert abs(found - was) < 0.05 and peak <= max(was_peak, SPEECH_PEAK_DBTP) + 0.1


def test_the_sample_peak_bound_holds_for_the_worst_signal() -> None:
    """TRUE_PEAK_BOUND is the most soxr's interpolation can add: a signal built to excite
    it (the signs of one phase of its filter) reaches, and never passes, the bound."""
    import soxr

    rate = SAMPLE_RATE
    impulse = np.zeros(rate, np.float32)
    impulse[rate // 2] = 1
    stream = soxr.ResampleStream(rate, rate * 4, 1, dtype="float32", quality="HQ")
    h = np.asarray(stream.resample_chunk(impulse, last=True))
    worst = max(range(4), key=lambda p: float(np.abs(h[p::4]).sum()))
    taps = h[worst::4]
    signal = np.zeros(rate, np.float32)
    centre = rate // 2
    start = centre - len(taps) // 2
    signal[start : start + len(taps)] = np.sign(taps[::-1]) * 0.3
    env = peak_envelope(signal)
    assert float(env.max()) <= 0.3 * TRUE_PEAK_BOUND


def dips_everywhere(env: Floats, ceiling_dbtp: float, rate: int = SAMPLE_RATE) -> Floats:
    """The former limiter's dips: every second of the clip worked out, peaks or not."""
    ceiling = np.float32(loudness.db(ceiling_dbtp))
    out = np.zeros(len(env), dtype=np.float32)
    k = max(1, rate * loudness.LIMIT_MS // 1000)
    for lo in range(0, len(env), rate):
        hi = min(lo + rate, len(env))
        a, b = max(0, lo - 2 * k), min(len(env), hi + 2 * k)
        part = env[a:b]
        if not (part > ceiling).any():
            continue
        over = np.maximum(0.0, 1.0 - ceiling / np.maximum(part, 1e-9)).astype(np.float32)
        padded = np.pad(over, k)
        deep = np.array([padded[i : i + 2 * k + 1].max() for i in range(len(over))], np.float32)
        sums = np.concatenate([[0.0], np.cumsum(np.pad(deep, k), dtype=np.float64)])
        mean = (sums[2 * k + 1 :] - sums[: -2 * k - 1]) / (2 * k + 1)
        out[lo:hi] = mean[lo - a : hi - a]
    return out


def envelope_by_reshape(x: Floats, rate: int = SAMPLE_RATE) -> Floats:
    """The former true-peak envelope: the whole clip oversampled at once, each sample's four
    values reduced along an axis."""
    import soxr

    stream = soxr.ResampleStream(rate, rate * 4, 1, dtype="float32", quality="HQ")
    up = np.abs(np.asarray(stream.resample_chunk(x, last=True), dtype=np.float32))
    env = up[: len(x) * 4].reshape(len(x), 4).max(axis=1)
    np.maximum(env, np.abs(x), out=env)
    np.maximum(env[:-1], env[1:], out=env[:-1])
    return env


@pytest.mark.parametrize("index", range(6))
def test_limiter_around_peaks_is_the_limiter_everywhere(index: int) -> None:
    """The envelope's strided maxima and the dips worked out only around the peaks give, bit
    for bit, what reducing along an axis and working out every second gave."""
    x = clips()[index][: SAMPLE_RATE * 3 // 2]
    env = peak_envelope(x)
    assert np.array_equal(env, envelope_by_reshape(x))
    for ceiling in (SPEECH_PEAK_DBTP, -9.0, -20.0):
        assert np.array_equal(loudness.dips(env, ceiling), dips_everywhere(env, ceiling))
