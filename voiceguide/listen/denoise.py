"""Spectral gating against the room's own noise: what a loud room (a fan) adds to a command,
taken out before it is recognized a second way.

Each frequency of the utterance's spectrogram is kept only where it stands above the room's
noise at that frequency (its mean in dB plus 1.5 standard deviations, measured on the quiet
before the command), the kept-or-not mask smoothed over 500 Hz and 50 ms. This is the
stationary spectral gate of noisereduce (Sainburg), with its defaults, written here with
numpy alone: the package brings scipy, joblib and 80 MB of resident memory to a thread that
otherwise needs 37 MB; the results agree to a rounding step. Why and what it measured:
docs/listening.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .segmenter import RATE

Floats = npt.NDArray[np.float64]

N_FFT = 1024
HOP = N_FFT // 4
STDS = 1.5
"""How far above the noise's mean (in its standard deviations) a bin must be to be kept."""
TOP_DB = 80.0
"""Each frequency's dB floored this far under its loudest, as noisereduce does."""
SMOOTH_HZ, SMOOTH_MS = 500, 50
PAD = 30_000
"""Zeros either side of the utterance, as noisereduce pads a chunk: the same frame grid."""

_WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
"""Hann, periodic: scipy's `stft` default."""


def _ramp(n: int) -> Floats:
    """noisereduce's smoothing taps along one axis: up over n steps, down over n + 1."""
    up = np.linspace(0, 1, n + 1, endpoint=False)
    down = np.linspace(1, 0, n + 2)
    taps: Floats = np.concatenate([up, down])[1:-1]
    return taps


_FREQ_TAPS = _ramp(int(SMOOTH_HZ / (RATE / (N_FFT / 2))))
_TIME_TAPS = _ramp(int(SMOOTH_MS / (HOP / RATE * 1000)))
_SCALE = float(_FREQ_TAPS.sum() * _TIME_TAPS.sum())


def _stft(x: Floats) -> npt.NDArray[np.complex128]:
    """(frequencies, frames), `x` padded with half a window of zeros either side."""
    padded = np.concatenate([np.zeros(N_FFT // 2), x, np.zeros(N_FFT // 2)])
    count = max(0, (len(padded) - N_FFT) // HOP + 1)
    starts = np.arange(count)[:, None] * HOP + np.arange(N_FFT)
    spectrum: npt.NDArray[np.complex128] = np.fft.rfft(padded[starts] * _WINDOW, axis=1).T
    return spectrum


def _istft(spectrum: npt.NDArray[np.complex128], length: int) -> Floats:
    """Overlap-add of the frames, divided by the windows' summed squares; `length` samples."""
    frames = np.fft.irfft(spectrum.T, n=N_FFT, axis=1) * _WINDOW
    total = (len(frames) - 1) * HOP + N_FFT
    out, weight = np.zeros(total), np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * HOP : i * HOP + N_FFT] += frame
        weight[i * HOP : i * HOP + N_FFT] += _WINDOW**2
    keep = slice(N_FFT // 2, N_FFT // 2 + length)
    out = out[keep] / np.maximum(weight[keep], 1e-10)
    return np.concatenate([out, np.zeros(length - len(out))])


def _db(spectrum: npt.NDArray[np.complex128]) -> Floats:
    level: Floats = 20 * np.log10(np.abs(spectrum) + np.finfo(np.float64).eps)
    floored: Floats = np.maximum(level, level.max(axis=1, keepdims=True) - TOP_DB)
    return floored


def _smoothed(mask: Floats) -> Floats:
    """The mask convolved with the smoothing taps (frequency x time), the same size, as
    scipy's `fftconvolve(mode="same")`: out[i] = sum over j of taps[j] * mask[i + start - j]."""
    for axis, taps in ((0, _FREQ_TAPS), (1, _TIME_TAPS)):
        rows = np.moveaxis(mask, axis, 0)
        out = np.zeros_like(rows)
        start, n = (len(taps) - 1) // 2, len(rows)
        for j, tap in enumerate(taps):
            shift = start - j  # out[i] takes rows[i + shift]
            lo, hi = max(0, -shift), min(n, n - shift)
            out[lo:hi] += tap * rows[lo + shift : hi + shift]
        mask = np.moveaxis(out, 0, axis)
    return mask / _SCALE


def denoise(utterance: npt.NDArray[np.int16], room: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """`utterance` with what stands no higher than `room`'s noise gated out."""
    if len(utterance) < N_FFT or len(room) < N_FFT:
        return utterance
    noise = _db(_stft(room.astype(np.float64)))
    threshold = noise.mean(axis=1) + STDS * noise.std(axis=1)
    padded = np.concatenate([np.zeros(PAD), utterance.astype(np.float64), np.zeros(PAD)])
    spectrum = _stft(padded)
    mask = _smoothed((_db(spectrum) > threshold[:, None]).astype(np.float64))
    out = _istft(spectrum * mask, len(padded))[PAD : PAD + len(utterance)]
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)
