"""Timeline + clips -> PCM, one section at a time. Shared by export and the player, so what
you hear is exactly what you export.

Audio is frames x channels (int16): two channels in stereo, where a cue of a side leans
toward that side's ear, one in mono. Every cue arrives at the reference loudness (see
loudness.py), so the routine's gain is known before the first block.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from . import sounds
from .ambience import Bed, Duck, ducks_of
from .clip import SAMPLE_RATE, Clip
from .config import AMBIENCE_LEVEL
from .loudness import REFERENCE_LUFS, TARGET_LUFS, db
from .timeline import Section, Timeline, ms_to_samples

Samples = npt.NDArray[np.int16]
"""Frames x channels."""
Floats = npt.NDArray[np.float32]

DESIGN_LUFS = -19.0
"""The speech loudness the chimes were made to sit beside: at another loudness, the chimes
move by the same number of dB as the voice."""
FADE_MS = 5
"""Fade at every clip edge: no clicks where a clip starts or stops mid-waveform."""
BLOCK_S = 10
KNEE, CEILING = 0.7, 0.79
"""Above KNEE (-3.1 dBFS, a cue's own true-peak ceiling) the mix is bent smoothly toward
CEILING (-2 dBFS) instead of clipping: where a tone under the voice meets a peak, the routine
still stays under TRUE_PEAK_DBTP (a bent peak overshoots a little between samples)."""
PAN = 0.3
"""How far a cue of the left or right side leans toward that ear (-1 is all left, 1 all
right): there, never hard to one side."""
PANS = {"left": -PAN, "right": PAN}
"""The sides that lean; every other sound (front, back, no side) is centred."""


_Sounding = tuple[int, int, str, str, float]
"""A sound of a section: its first frame, a frame it surely ends by, its kind, its key (a
cue's text or a chime's name) and its pan position."""


def _spans(sounding: list[_Sounding], lo: int, hi: int) -> list[tuple[int, int]]:
    """The stretches of frames [lo, hi) that the sounds may reach, those that touch merged."""
    spans: list[tuple[int, int]] = []
    for at, until, *_ in sorted(sounding):
        a, b = max(at, lo), min(until, hi)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        elif a < b:
            spans.append((a, b))
    return spans


def pan_gains(position: float) -> tuple[float, float]:
    """(left, right) factors of a constant-power pan: the sum of their squares is 1, so a
    sound is as loud wherever it sits, and centred it is 3 dB down on each channel."""
    theta = (position + 1.0) * math.pi / 4
    return math.cos(theta), math.sin(theta)


@dataclass(frozen=True, slots=True)
class Mix:
    """How the routine sounds beyond its words: how loud, over what bed, in how many channels."""

    loudness: float = TARGET_LUFS
    """The routine's integrated loudness, LUFS."""
    bed: Bed | None = None
    """A bed under the whole routine (ambience.py), or none."""
    bed_level: float = AMBIENCE_LEVEL
    """Where the bed sits against the voice in the quiet between cues, LU."""
    stereo: bool = True
    pan: bool = True
    """Cues of the left or right side lean toward it (stereo only)."""

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    def position(self, side: str | None) -> float:
        return PANS.get(side or "", 0.0) if self.stereo and self.pan else 0.0


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


def speech(clip: Clip, loudness: float = TARGET_LUFS) -> Floats:
    """A cue at `loudness`: clips come at REFERENCE_LUFS (speech.finish), so one gain does it."""
    out: Floats = (_faded(_floats(clip)) * np.float32(db(loudness - REFERENCE_LUFS))).astype(
        np.float32
    )
    return out


def gain(loudness: float) -> float:
    """What the chimes are scaled by for a routine at `loudness`."""
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
    y: Floats = limit(x) * np.float32(32767.0)
    np.rint(y, out=y)
    return y.astype(np.int16)


def placed(x: Floats, mix: Mix, side: str | None = None) -> Floats:
    """Mono floats as the mix's channels: panned toward `side`, or centred."""
    if mix.channels == 1:
        return x[:, np.newaxis]
    left, right = pan_gains(mix.position(side))
    out: Floats = np.stack([x * np.float32(left), x * np.float32(right)], axis=1)
    return out


@dataclass(slots=True)
class Renderer:
    """Places every clip at its exact sample offset. Keeps the few clips it used last (a cue
    said many times in a row is read once), never all of them: the clips may be a disk-backed
    store of hours of speech."""

    clips: Mapping[str, Clip]
    """Speech clips by text."""
    volume: float = 1.0
    mix: Mix = field(default_factory=Mix)
    keep: int = 8
    """Speech clips kept: a block overlaps two or three."""
    _before: tuple[int, list[Duck]] = (-1, [])
    """The end of the section rendered last and its cues' dips: a release runs on into the
    next section (sections are rendered in order, by export and by the player alike)."""
    _speech: OrderedDict[str, Floats] = field(default_factory=OrderedDict)
    _chimes: dict[str, Floats] = field(default_factory=dict)

    def _clip(self, kind: str, key: str) -> Floats:
        if kind == "speech":
            x = self._speech.get(key)
            if x is None:
                x = self._speech[key] = speech(self.clips[key], self.mix.loudness)
                while len(self._speech) > self.keep:
                    self._speech.popitem(last=False)
            self._speech.move_to_end(key)
            return x
        if key not in self._chimes:  # a routine uses a few short ones, many times
            chime = _faded(_floats(sounds.load(key))) * np.float32(gain(self.mix.loudness))
            self._chimes[key] = chime.astype(np.float32)
        return self._chimes[key]

    def section(self, section: Section) -> Samples:
        """The section's PCM: exactly its frames on the routine's absolute sample grid."""
        parts = list(self.blocks(section))
        return np.concatenate(parts) if parts else np.zeros((0, self.mix.channels), np.int16)

    def blocks(self, section: Section) -> Iterator[Samples]:
        """The section's PCM in blocks of at most BLOCK_S seconds: an hour-long routine is
        rendered and encoded in flat memory. A clip is fetched only for the blocks it sounds
        in, found from its event's length (a clip's length in ms, rounded, so one ms of
        slack). Sounds go onto one bus per pan position (left, centre, right), which are
        then spread over the channels."""
        first = ms_to_samples(section.start, SAMPLE_RATE)
        end = ms_to_samples(section.end, SAMPLE_RATE)
        sounding: list[_Sounding] = []
        for event in section.events:
            key = event.text if event.kind == "speech" else event.name
            if event.kind in ("speech", "chime") and key is not None:
                at = ms_to_samples(event.start, SAMPLE_RATE)
                until = ms_to_samples(event.start + event.duration + 1, SAMPLE_RATE) + 1
                sounding.append((at, until, event.kind, key, self.mix.position(event.side)))
        ducks = ducks_of(section)
        if self._before[0] == first:
            ducks = self._before[1] + ducks
        self._before = (end, ducks_of(section))
        step = BLOCK_S * SAMPLE_RATE
        for lo in range(first, end, step):
            hi = min(lo + step, end)
            here = [s for s in sounding if s[0] < hi and s[1] > lo]
            if self.mix.bed is not None:
                level = self.mix.bed.level(self.mix.loudness, self.mix.bed_level)
                yield self._mixed(
                    lo, hi, end, here, self.mix.bed.block(lo, hi, section, ducks, level)
                )
                continue
            # with no bed, only where something sounds is mixed: the rest is digital silence
            out = np.zeros((hi - lo, self.mix.channels), dtype=np.int16)
            for a, b in _spans(here, lo, hi):
                out[a - lo : b - lo] = self._mixed(a, b, end, here)
            yield out

    def _mixed(
        self, lo: int, hi: int, end: int, sounding: list[_Sounding], bed: Floats | None = None
    ) -> Samples:
        """Frames [lo, hi) of a section ending at frame `end`: its sounds over `bed`."""
        buses: dict[float, Floats] = {0.0: np.zeros(hi - lo, dtype=np.float32)}
        if bed is not None:
            buses[0.0] += bed
        for at, until, kind, key, position in sounding:
            if at < hi and until > lo:
                x = self._clip(kind, key)[: max(0, end - at)]
                if at + len(x) > lo:
                    a, b = max(at, lo), min(at + len(x), hi)
                    bus = buses.setdefault(position, np.zeros(hi - lo, dtype=np.float32))
                    bus[a - lo : b - lo] += x[a - at : b - at]
        return self._spread(buses)

    def _spread(self, buses: dict[float, Floats]) -> Samples:
        """The buses over the channels, as PCM. Where everything is centred (most of a
        routine) both channels are the same: one is made, and copied."""
        volume = np.float32(self.volume)
        if self.mix.channels == 1 or len(buses) == 1:
            mono = buses[0.0]
            for position, bus in buses.items():
                if position != 0.0:
                    mono = mono + bus
            if self.mix.channels == 1:
                return to_pcm16(mono * volume)[:, np.newaxis]
            pcm = to_pcm16(mono * (volume * np.float32(pan_gains(0.0)[0])))
            return np.repeat(pcm[:, np.newaxis], 2, axis=1)
        out: Floats = np.zeros((len(buses[0.0]), 2), dtype=np.float32)
        for position, bus in buses.items():
            left, right = pan_gains(position)
            out[:, 0] += bus * (volume * np.float32(left))
            out[:, 1] += bus * (volume * np.float32(right))
        return to_pcm16(out)

    def filler(self, at: int, frames: int) -> Samples:
        """Audio for time added at frame `at` in the quiet of a hold (the player's "+"):
        silence, or the bed going on from there, its last 50 ms crossfaded into the bed just
        before `at`, so it meets what follows (rendered from `at` on) without a step."""
        bed = self.mix.bed
        if bed is None:
            return np.zeros((frames, self.mix.channels), dtype=np.int16)
        x = bed.samples(at, at + frames)
        c = min(frames, SAMPLE_RATE // 20)
        if c:
            theta = np.linspace(0.0, np.pi / 2, c, dtype=np.float32)
            x[-c:] = x[-c:] * np.cos(theta) + bed.samples(at - c, at) * np.sin(theta)
        level = np.float32(bed.level(self.mix.loudness, self.mix.bed_level) * self.volume)
        return to_pcm16(placed(x * level, self.mix))

    def sections(self, timeline: Timeline) -> Iterator[Samples]:
        for section in timeline.sections:
            yield self.section(section)


def render(
    timeline: Timeline, clips: Mapping[str, Clip], volume: float = 1.0, mix: Mix | None = None
) -> Samples:
    """The whole routine as one array (for tests and short routines; export streams sections)."""
    mix = mix or Mix()
    parts = list(Renderer(clips, volume, mix).sections(timeline))
    return np.concatenate(parts) if parts else np.zeros((0, mix.channels), dtype=np.int16)
