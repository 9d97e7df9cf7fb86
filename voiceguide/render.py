"""Timeline + clips -> PCM, one section at a time. Shared by export and the player, so what
you hear is exactly what you export.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from . import sounds
from .ambience import Bed, Duck, ducks_of
from .clip import SAMPLE_RATE, Clip
from .loudness import SPEECH_PEAK_DBTP, TARGET_LUFS, db, leveled
from .timeline import Section, Timeline, ms_to_samples

Samples = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float32]

DESIGN_LUFS = -19.0
"""The speech loudness the chimes were made to sit beside: at another loudness, the chimes
(and everything else that is not speech) move by the same number of dB as the voice."""
FADE_MS = 5
"""Fade at every clip edge: no clicks where a clip starts or stops mid-waveform."""
BLOCK_S = 10
KNEE, CEILING = 0.7, 0.79
"""Above KNEE (-3.1 dBFS, a cue's own true-peak ceiling) the mix is bent smoothly toward
CEILING (-2 dBFS) instead of clipping: where a tone under the voice meets a peak, the routine
still stays under TRUE_PEAK_DBTP (a bent peak overshoots a little between samples)."""


def _floats(clip: Clip) -> Floats:
    if clip.sample_rate != SAMPLE_RATE:
        raise ValueError(f"clip at {clip.sample_rate} Hz; everything is rendered at {SAMPLE_RATE}")
    return np.frombuffer(clip.pcm, dtype="<i2").astype(np.float32) / 32768.0


def _faded(x: Floats) -> Floats:
    n = min(len(x) // 2, SAMPLE_RATE * FADE_MS // 1000)
    if n:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def leveled_speech(clip: Clip, loudness: float = TARGET_LUFS) -> Floats:
    """The cue at `loudness` (LUFS, BS.1770), its true peak at most SPEECH_PEAK_DBTP: every
    cue equally loud, whatever the engine or the text."""
    return _faded(leveled(_floats(clip), loudness, SPEECH_PEAK_DBTP))


def gain(loudness: float) -> float:
    """What everything but speech is scaled by for a routine at `loudness`."""
    return db(loudness - DESIGN_LUFS)


def limit(x: Floats) -> Floats:
    """Transparent below KNEE; above it, a tanh curve that never passes CEILING."""
    over = np.abs(x) > KNEE
    if over.any():
        x = x.copy()
        head = CEILING - KNEE
        x[over] = np.sign(x[over]) * (KNEE + head * np.tanh((np.abs(x[over]) - KNEE) / head))
    return x


def to_pcm16(x: Floats) -> Samples:
    return np.round(limit(x) * 32767.0).astype(np.int16)


@dataclass(slots=True)
class Renderer:
    """Places every clip at its exact sample offset. Keeps the few leveled clips it used last
    (a cue said many times in a row is leveled once), never all of them: the clips may be a
    disk-backed store of hours of speech."""

    clips: Mapping[str, Clip]
    """Speech clips by text."""
    volume: float = 1.0
    loudness: float = TARGET_LUFS
    """The routine's integrated loudness, LUFS: known before any block is rendered."""
    ambience: Bed | None = None
    """A bed under the whole routine (ambience.py), or none."""
    keep: int = 8
    """Leveled speech clips kept: a block overlaps two or three."""
    _before: tuple[int, list[Duck]] = (-1, [])
    """The end of the section rendered last and its cues' dips: a release runs on into the
    next section (sections are rendered in order, by export and by the player alike)."""
    _speech: OrderedDict[str, Floats] = field(default_factory=OrderedDict)
    _chimes: dict[str, Floats] = field(default_factory=dict)

    def _clip(self, kind: str, key: str) -> Floats:
        if kind == "speech":
            x = self._speech.get(key)
            if x is None:
                x = self._speech[key] = leveled_speech(self.clips[key], self.loudness)
                while len(self._speech) > self.keep:
                    self._speech.popitem(last=False)
            self._speech.move_to_end(key)
            return x
        if key not in self._chimes:  # a routine uses a few short ones, many times
            chime = _faded(_floats(sounds.load(key))) * np.float32(gain(self.loudness))
            self._chimes[key] = chime.astype(np.float32)
        return self._chimes[key]

    def section(self, section: Section) -> Samples:
        """The section's PCM: exactly its samples on the routine's absolute sample grid."""
        parts = list(self.blocks(section))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def blocks(self, section: Section) -> Iterator[Samples]:
        """The section's PCM in blocks of at most BLOCK_S seconds: an hour-long routine is
        rendered and encoded in flat memory. A clip is fetched only for the blocks it sounds
        in, found from its event's length (a clip's length in ms, rounded, so one ms of
        slack)."""
        first = ms_to_samples(section.start, SAMPLE_RATE)
        end = ms_to_samples(section.end, SAMPLE_RATE)
        sounding = []
        for event in section.events:
            key = event.text if event.kind == "speech" else event.name
            if event.kind in ("speech", "chime") and key is not None:
                at = ms_to_samples(event.start, SAMPLE_RATE)
                until = ms_to_samples(event.start + event.duration + 1, SAMPLE_RATE) + 1
                sounding.append((at, until, event.kind, key))
        ducks = ducks_of(section)
        if self._before[0] == first:
            ducks = self._before[1] + ducks
        self._before = (end, ducks_of(section))
        step = BLOCK_S * SAMPLE_RATE
        for lo in range(first, end, step):
            hi = min(lo + step, end)
            mix = np.zeros(hi - lo, dtype=np.float32)
            if self.ambience is not None:
                level = self.ambience.level(self.loudness)
                mix += self.ambience.block(lo, hi, section, ducks, level)
            for at, until, kind, key in sounding:
                if at < hi and until > lo:
                    x = self._clip(kind, key)[: max(0, end - at)]
                    if at + len(x) > lo:
                        a, b = max(at, lo), min(at + len(x), hi)
                        mix[a - lo : b - lo] += x[a - at : b - at]
            yield to_pcm16(mix * np.float32(self.volume))

    def filler(self, at: int, samples: int) -> Samples:
        """Audio for time added at sample `at` in the quiet of a hold (the player's "+"):
        the bed going on from there, its last 50 ms crossfaded into the bed just before
        `at`, so it meets what follows (rendered from `at` on) without a step."""
        if self.ambience is None:
            return np.zeros(samples, dtype=np.int16)
        bed = self.ambience
        x = bed.samples(at, at + samples)
        c = min(samples, SAMPLE_RATE // 20)
        if c:
            theta = np.linspace(0.0, np.pi / 2, c, dtype=np.float32)
            x[-c:] = x[-c:] * np.cos(theta) + bed.samples(at - c, at) * np.sin(theta)
        return to_pcm16(x * np.float32(bed.level(self.loudness) * self.volume))

    def sections(self, timeline: Timeline) -> Iterator[Samples]:
        for section in timeline.sections:
            yield self.section(section)


def render(
    timeline: Timeline,
    clips: Mapping[str, Clip],
    volume: float = 1.0,
    loudness: float = TARGET_LUFS,
    ambience: Bed | None = None,
) -> Samples:
    """The whole routine as one array (for tests and short routines; export streams sections)."""
    parts = list(Renderer(clips, volume, loudness, ambience).sections(timeline))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
