"""The routine as the player gets it: sections as they are made, each one's audio on disk,
shared between the thread making them and the player; "+" lengthens a hold in it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .clip import SAMPLE_RATE
from .tape import Rest, Stored
from .timeline import Event, Section, ms_to_samples

if TYPE_CHECKING:
    from pathlib import Path

    from .render import Samples


def grid(ms: int) -> int:
    return ms_to_samples(ms, SAMPLE_RATE)


def sample_ms(sample: int) -> int:
    return sample * 1000 // SAMPLE_RATE


@dataclass(slots=True)
class Program:
    """The routine as it becomes ready, section by section; shared with the thread making it."""

    title: str
    sections: list[Section] = field(default_factory=list)
    pcm: list[Stored] = field(default_factory=list)
    """Each section's audio, on disk (tape.py)."""
    complete: bool = False
    error: BaseException | None = None
    shift_ms: int = 0
    """Time added by "+" so far; sections still to come are moved by it."""
    expected_ms: int = 0
    """About how long the whole routine will be: room to leave in the playing buffer."""
    lock: threading.Condition = field(default_factory=threading.Condition)
    """Guards everything above; notified whenever a section arrives or the making ends."""
    folder: Path | None = None
    """Where the audio files go (None: the system's temporary folder)."""
    fill: Callable[[int, int], Samples] | None = None
    """What "+" opens at a frame, for so many frames (render.Renderer.filler: the bed going
    on, or silence); None: silence."""

    def gap(self, at: int, frames: int, channels: int) -> Samples:
        """The audio for time added at frame `at`."""
        if self.fill is None:
            return np.zeros((frames, channels), dtype=np.int16)
        return self.fill(at, frames)

    def add(self, section: Section, blocks: Iterable[Samples]) -> None:
        """A section made, with its audio (stored on disk first, outside the lock)."""
        pcm = Stored(blocks, self.folder)
        with self.lock:
            if self.shift_ms:
                section = shifted(section, self.shift_ms)
            self.sections.append(section)
            self.pcm.append(pcm)
            self.lock.notify_all()

    def grow(self, section: Section, more: Iterable[Samples]) -> None:
        """The last section made whole: `section` (same start, later end) replaces it, and
        `more` is its audio from where the one it replaces ended. The opening's first cue
        plays this way before the rest of the opening is made, and stays section 0 (a
        technique's index never moves: n, p, the history and --resume count on it)."""
        with self.lock:
            old = self.pcm[-1]
        pcm = Stored(itertools.chain(old.pieces(), more), self.folder, old.channels)
        with self.lock:
            if self.shift_ms:
                section = shifted(section, self.shift_ms)
            self.sections[-1] = section
            self.pcm[-1] = pcm
            self.lock.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self.lock:
            self.complete, self.error = True, error
            self.lock.notify_all()

    def wait(self, timeout: float) -> None:
        """Block until the next section arrives (or `timeout` passes)."""
        with self.lock:
            if not self.complete:
                self.lock.wait(timeout)

    def index_at(self, sample: int) -> int | None:
        """The ready section that holds `sample`."""
        with self.lock:
            for i, section in enumerate(self.sections):
                if grid(section.start) <= sample < grid(section.end):
                    return i
            return None

    @property
    def end(self) -> int:
        with self.lock:
            return grid(self.sections[-1].end) if self.sections else 0

    def audio_from(self, sample: int) -> Rest | None:
        """Everything ready from `sample` on, to be read; None if that is not ready yet."""
        with self.lock:
            i = self.index_at(sample)
            if i is None:
                return None
            skip = sample - grid(self.sections[i].start)
            parts = [(self.pcm[i], skip, len(self.pcm[i]))]
            parts += [(pcm, 0, len(pcm)) for pcm in self.pcm[i + 1 :]]
            return Rest(tuple(parts))

    def insert_silence(self, index: int, at_ms: int, hold: Event, ms: int) -> None:
        """Lengthen `hold` by `ms`, opening silence at `at_ms` (a quiet moment inside it)."""
        with self.lock:
            section = self.sections[index]
            events = tuple(
                replace(e, duration=e.duration + ms)
                if e == hold
                else replace(e, start=e.start + ms)
                if e.start >= at_ms
                else e
                for e in section.events
            )
            self.sections[index] = replace(section, duration=section.duration + ms, events=events)
            cut = grid(at_ms) - grid(section.start)
            old = self.pcm[index]
            gap = self.gap(grid(at_ms), grid(at_ms + ms) - grid(at_ms), old.channels)
            self.pcm[index] = Stored(
                itertools.chain(old.pieces(0, cut), [gap], old.pieces(cut)),
                self.folder,
                old.channels,
            )
            for i in range(index + 1, len(self.sections)):
                self.sections[i] = shifted(self.sections[i], ms)
            self.shift_ms += ms


def shifted(section: Section, ms: int) -> Section:
    events = tuple(replace(e, start=e.start + ms) for e in section.events)
    return replace(section, start=section.start + ms, events=events)
