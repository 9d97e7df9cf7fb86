"""How fast each engine speaks: `--rate` (words per minute heard) to the engine's own speed
control, and each engine's length model. Light: no numpy, no engine.

Words per minute heard = the words of a cue over the length of its clip, leading and
trailing silence trimmed (pauses inside the cue count). Each table was measured on the 80
distinct cues of the built-in routines (862 words) by `scripts/calibrate`; see
docs/speech-rates.md. Between two measured points the control is interpolated where the
engine's speed moves smoothly; where it jumps (hibari's `speed` between 1.30 and 1.35 shortens
speech by 27%), the nearer point is used and the clip time-stretched by the rest.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ..estimate import RATE_FLOOR, spoken
from ..estimate import _features as features  # one feature set for every length model

FINISH = "finish-2"
"""The version of the steps every clip goes through after its engine (calibration, trimming,
stretching, resampling, leveling): part of every engine's id, so a change makes new cache keys."""

STRETCH_TOLERANCE = 1.02
"""A residual this small is left alone: time-stretching costs more than it brings."""


@dataclass(frozen=True, slots=True)
class Calibration:
    points: tuple[tuple[float, float], ...]
    """(the engine's speed control, words per minute heard), both increasing."""
    smooth: float
    """Neighbouring points whose rates differ by at most this ratio are interpolated between."""
    integer: bool = False
    """The control takes whole numbers only."""

    def control(self, wpm: float) -> tuple[float, float]:
        """(the engine's control, a time-stretch of its clip: length multiplier) for `wpm`."""
        rates = [rate for _, rate in self.points]
        nearest = min(range(len(rates)), key=lambda i: abs(math.log(rates[i] / wpm)))
        if max(rates[nearest] / wpm, wpm / rates[nearest]) <= STRETCH_TOLERANCE:
            return self.points[nearest][0], 1.0  # a measured point: no guessing, no stretch
        if wpm <= rates[0]:
            return self._nearest(0, wpm)
        if wpm >= rates[-1]:
            return self._nearest(len(rates) - 1, wpm)
        i = bisect.bisect_right(rates, wpm) - 1
        (c0, r0), (c1, r1) = self.points[i], self.points[i + 1]
        if r1 / r0 <= self.smooth:
            value = c0 + (c1 - c0) * (wpm - r0) / (r1 - r0)
            return (round(value) if self.integer else round(value, 4)), 1.0
        nearer = i if math.log(wpm / r0) < math.log(r1 / wpm) else i + 1
        return self._nearest(nearer, wpm)

    def _nearest(self, index: int, wpm: float) -> tuple[float, float]:
        control, rate = self.points[index]
        stretch = rate / wpm
        if max(stretch, 1 / stretch) <= STRETCH_TOLERANCE:
            stretch = 1.0
        return control, round(stretch, 4)


# fmt: off
CALIBRATIONS = {
    # hibari-tts 0.2.1, voice heart, seed 0, in pieces (natural.pieces, pieces-2): its `speed`.
    "natural": Calibration(
        (
            (0.5, 105.3), (0.52, 106.6), (0.55, 111.3), (0.56, 112.4), (0.58, 125.8), (0.6, 127.6),
            (0.62, 129.3), (0.65, 132.1), (0.66, 134.7), (0.67, 143.4), (0.68, 147.6),
            (0.69, 149.1), (0.7, 150.6), (0.75, 156.5), (0.8, 171.8), (0.82, 186.8), (0.84, 189.1),
            (0.85, 191.0), (0.87, 199.6), (0.9, 203.8), (0.95, 209.0), (1.0, 212.9), (1.05, 216.6),
            (1.1, 220.5), (1.15, 225.2), (1.2, 234.9), (1.25, 244.1), (1.3, 248.1), (1.35, 313.9),
            (1.4, 319.3), (1.45, 323.7), (1.5, 328.2), (1.55, 332.1), (1.6, 336.5), (1.65, 341.6),
            (1.7, 344.3), (1.75, 347.6), (1.8, 349.6), (1.85, 352.0), (1.9, 354.2), (1.95, 357.1),
            (2.0, 372.6),
        ),
        smooth=1.07,
    ),
    # espeak-ng 1.51, voice en-us: its nominal words per minute (linear in what is heard).
    "espeak": Calibration(
        (
            (80, 101.5), (90, 108.2), (100, 120.4), (110, 132.8), (120, 144.9), (130, 157.7),
            (140, 170.2), (150, 181.6), (160, 194.1), (170, 206.4), (180, 219.0), (190, 230.8),
            (200, 242.9), (220, 267.8), (250, 302.6), (280, 339.4), (300, 364.5),
            (350, 431.8), (400, 493.3),
        ),
        smooth=math.inf,
        integer=True,
    ),
}
# fmt: on
CALIBRATIONS["system"] = CALIBRATIONS["espeak"]
"""pyttsx3's espeak driver takes espeak-ng's nominal rate. SAPI5 and NSSpeechSynthesizer take
a nominal words per minute too, which is passed as it is (not measured here)."""
assert CALIBRATIONS["espeak"].points[0][0] == RATE_FLOOR


# --- Length models ------------------------------------------------------------------------

LENGTHS: dict[str, tuple[float, float, float, float, float]] = {
    # (per letter, per word, per pause, per sentence break) in words-per-minute units, and a
    # fixed part in ms: ms = 60000 / wpm * (a letters + b words + c pauses + d breaks) + e.
    "natural": (0.136, 0.261, 0.6026, 2.7245, 254.79),
    "espeak": (0.1684, 0.194, 0.7784, 1.5054, 149.6),
}
LENGTHS["system"] = LENGTHS["espeak"]


PLAUSIBLE = (0.25, 4.0)
"""A finished clip outside this range of its engine's model cannot be its text: the fitted
models put 99% of clips within 0.78-1.71 of the estimate, and short texts at 0.63-1.83."""


def plausible(engine: str, text: str, wpm: int, duration_ms: int) -> bool:
    expected = estimate_ms(engine, text, wpm)
    return PLAUSIBLE[0] * expected <= duration_ms <= PLAUSIBLE[1] * expected


def estimate_ms(engine: str, text: str, wpm: int) -> int:
    """How long `engine` takes to say `text` at `wpm` words per minute heard (about +-20%)."""
    text = spoken(text)
    if not text:
        return 0
    a, b, c, d, e = LENGTHS[engine]
    letters, words, pauses, breaks, _ = features(text)
    return max(1, round(60000 / wpm * (a * letters + b * words + c * pauses + d * breaks) + e))
