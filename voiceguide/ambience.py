"""A bed under the whole routine: a loop that fades in and out and ducks under every cue.

The shipped beds are made by scripts/make-sounds, periodic over their length, so they loop
without a seam; a user's own WAV is looped through a one-second equal-power crossfade of its
end into its start. What `--ambience`, a routine's `ambience` and the config's mean is
resolved here; mixing it, block by block, is `Bed.block`. See docs/ambience.md.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .clip import SAMPLE_RATE
from .errors import UsageError
from .timeline import Section, ms_to_samples

Floats = npt.NDArray[np.float32]

BEDS: dict[str, str] = {
    "brown-noise": "soft brown noise, swelling slowly like distant surf",
    "drone": "a low warm drone on C2 and G2, slowly beating",
}
"""The shipped beds, name -> what you hear (sounds/beds/NAME.wav)."""
OFF = "off"
DUCK_DB = 10.0
"""How far the bed goes down under a cue."""
ATTACK_MS, RELEASE_MS = 300, 700
"""The bed starts down this long before a cue (the timeline is known), and comes back up
over this long after it."""
FADE_IN_MS, FADE_OUT_MS = 4000, 4000
"""At the start of the routine, and at the end of its closing."""
CROSSFADE_MS = 1000
"""A user's WAV: its last second crossfaded into its first, so the loop has no seam."""
MIN_MS = 1000
"""The shortest bed: a shorter loop repeats as a buzz, and BS.1770 cannot measure it (its
blocks are 400 ms), so its level under the voice could not be set."""


@dataclass(frozen=True, slots=True)
class Duck:
    """One cue's dip: down from `a` to `s` (its onset), down to `e`, back up by `e + release`.
    In samples on the routine's absolute grid."""

    a: int
    s: int
    e: int


def _ramp(n: Floats) -> Floats:
    """Raised cosine, 0 -> 1 for n in [0, 1]."""
    out: Floats = (0.5 - 0.5 * np.cos(np.pi * np.clip(n, 0.0, 1.0))).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Bed:
    """A loop of mono float samples at SAMPLE_RATE, and its loudness (LUFS, BS.1770)."""

    name: str
    loop: Floats
    lufs: float

    def level(self, loudness: float, relative: float) -> float:
        """The factor that puts this bed `relative` LU (below 0: under) against the voice of
        a routine at `loudness`."""
        return float(10 ** ((loudness + relative - self.lufs) / 20))

    def samples(self, lo: int, hi: int) -> Floats:
        """The loop at absolute samples [lo, hi): the same wherever a block starts."""
        out: Floats = self.loop[np.arange(lo, hi) % len(self.loop)]
        return out

    def block(
        self, lo: int, hi: int, section: Section, ducks: Sequence[Duck], level: float
    ) -> Floats:
        """The bed in samples [lo, hi) of `section`, faded and ducked."""
        n = np.arange(lo, hi)
        gain = np.full(hi - lo, level, dtype=np.float32)
        fade_in = ms_to_samples(FADE_IN_MS, SAMPLE_RATE)
        if lo < fade_in:
            gain *= _ramp((n / fade_in).astype(np.float32))
        if is_closing(section):
            end = ms_to_samples(section.end, SAMPLE_RATE)
            fade_out = ms_to_samples(FADE_OUT_MS, SAMPLE_RATE)
            gain *= _ramp(((end - n) / fade_out).astype(np.float32))
        gain *= duck_gain(lo, hi, ducks)
        out: Floats = self.samples(lo, hi) * gain
        return out


PREVIEW_S = 10
"""How much of a bed `voiceguide sounds NAME` plays: long enough to hear its swell."""


def preview(bed: Bed, loudness: float, relative: float) -> Floats:
    """PREVIEW_S seconds of the bed as it sounds in the quiet between cues of a routine at
    `loudness` with the bed `relative` to the voice, faded in and out over a second."""
    frames = PREVIEW_S * SAMPLE_RATE
    seconds = np.arange(frames, dtype=np.float32) / np.float32(SAMPLE_RATE)
    fade_in: Floats = _ramp(seconds)
    fade = fade_in * _ramp((seconds[::-1] + np.float32(1 / SAMPLE_RATE)).astype(np.float32))
    out: Floats = bed.samples(0, frames) * fade * np.float32(bed.level(loudness, relative))
    return out


def is_closing(section: Section) -> bool:
    """The routine's last section (the compiler's "Closing", which no technique can be)."""
    return section.technique is None and section.title == "Closing"


def ducks_of(section: Section) -> list[Duck]:
    """Every cue's dip; an attack never reaches back before its own section (that one may
    already be playing), so a cue at a section's start dips from there."""
    start = ms_to_samples(section.start, SAMPLE_RATE)
    attack = ms_to_samples(ATTACK_MS, SAMPLE_RATE)
    out = []
    for event in section.events:
        if event.kind == "speech":
            s = ms_to_samples(event.start, SAMPLE_RATE)
            e = ms_to_samples(event.start + event.duration, SAMPLE_RATE)
            out.append(Duck(max(start, s - attack), s, e))
    return out


def duck_gain(lo: int, hi: int, ducks: Sequence[Duck]) -> Floats:
    """The ducking factor over [lo, hi): 1 in the quiet, DUCK_DB down under every cue."""
    low = np.float32(10 ** (-DUCK_DB / 20))
    release = ms_to_samples(RELEASE_MS, SAMPLE_RATE)
    gain = np.ones(hi - lo, dtype=np.float32)
    for d in ducks:
        if d.a >= hi or d.e + release <= lo:
            continue
        n = np.arange(lo, hi)
        down = np.ones(hi - lo, dtype=np.float32)
        if d.s > d.a:
            down = np.where(n < d.s, 1 - _ramp(((n - d.a) / (d.s - d.a)).astype(np.float32)), 0)
        else:
            down = np.where(n < d.s, 1.0, 0.0).astype(np.float32)
        up = _ramp(((n - d.e) / release).astype(np.float32))
        depth = np.where(n <= d.e, down, up).astype(np.float32)  # 1: no dip, 0: all the way
        gain = np.minimum(gain, low + (1 - low) * depth)
    return gain


def bed_dir() -> Path:
    from .sounds import sound_dir

    return sound_dir() / "beds"


def load(
    value: str, base: Sequence[Path], where: str, folders: Sequence[Path] | None
) -> Bed | None:
    """The bed `value` names: off (None), a shipped bed, or a WAV file inside one of
    `folders` (a relative path is relative to `base`'s first). `folders` None: anywhere (the
    person typing the path chose it; a shared file must not reach out of its folders).
    `where` starts any error."""
    if value == OFF:
        return None
    if value in BEDS:
        return _load_shipped(value)
    if not value.lower().endswith(".wav"):
        close = difflib.get_close_matches(value, [*BEDS, OFF], n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise UsageError(
            f"{where}: unknown bed {value!r}{hint}; use one of {', '.join(BEDS)}, {OFF}, "
            + ("or a .wav file" if folders is None else "or a .wav file in " + _places(folders))
        )
    return _load_file(value, base, where, folders)


def _load_shipped(name: str) -> Bed:
    from .clip import read_wav
    from .errors import VoiceguideError

    path = bed_dir() / f"{name}.wav"
    try:
        clip = read_wav(path)
    except (OSError, ValueError) as exc:
        raise VoiceguideError(
            f"bed {name!r} is missing or damaged ({exc}); reinstall voiceguide, "
            "or run scripts/make-sounds in a source checkout"
        ) from exc
    x = np.frombuffer(clip.pcm, dtype="<i2").astype(np.float32) / 32768.0
    return _bed(name, x)


def _places(folders: Sequence[Path]) -> str:
    return " or ".join(str(f.resolve()) for f in folders) or "the routine's folder"


def _load_file(value: str, base: Sequence[Path], where: str, folders: Sequence[Path] | None) -> Bed:
    from .sounds import load_file

    given = Path(value).expanduser()
    path = (given if given.is_absolute() or not base else base[0] / given).resolve()
    if folders is not None and not any(path.is_relative_to(f.resolve()) for f in folders):
        raise UsageError(f"{where}: {value!r} must be a .wav file inside {_places(folders)}")
    try:
        clip = load_file(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{where}: {value!r} is not a sound we can play: {reason}") from exc
    x = np.frombuffer(clip.pcm, dtype="<i2").astype(np.float32) / 32768.0
    if clip.duration_ms < MIN_MS:
        raise UsageError(
            f"{where}: {value!r} is too short to loop ({clip.duration_ms} ms); "
            f"a bed must last at least {MIN_MS / 1000:g} s"
        )
    return _bed(str(path), seamless(x))


def seamless(x: Floats) -> Floats:
    """`x` as a loop: its last second crossfaded (equal power) into its first, so the end of
    the loop runs on into its start without a step."""
    f = min(ms_to_samples(CROSSFADE_MS, SAMPLE_RATE), len(x) // 3)
    if f < 2:
        return x
    theta = (np.arange(f, dtype=np.float32) / f) * np.float32(math.pi / 2)
    head = x[:f] * np.sin(theta) + x[len(x) - f :] * np.cos(theta)
    out: Floats = np.concatenate([head, x[f : len(x) - f]]).astype(np.float32)
    return out


def _bed(name: str, x: Floats) -> Bed:
    from .errors import UsageError
    from .loudness import measure

    level, _ = measure(x)
    if not math.isfinite(level):
        raise UsageError(f"{name}: the bed is silent (quieter than BS.1770's -70 LUFS gate)")
    return Bed(name, x, level)
