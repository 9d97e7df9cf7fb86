"""The compiled routine: events at absolute millisecond offsets, grouped into sections.

A section is the preamble, one technique, or the outro. Sections are contiguous and no event
crosses a section's end, so a player or exporter can work one section at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .language import Posture

Kind = Literal["speech", "chime", "hold", "breathe", "rest"]
INTERVALS: tuple[Kind, ...] = ("hold", "breathe", "rest")


def length_text(ms: int, *, estimated: bool = False) -> str:
    """A routine's length as every command shows it: m:ss, rounded to the second. `estimated`
    (from word counts, before any speech is made: list, check, show --estimate, play before
    the whole routine is made) marks it "~": the real length differs by a few percent."""
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{'~' if estimated else ''}{minutes}:{seconds:02d}"


def ms_to_samples(ms: int, sample_rate: int) -> int:
    """Absolute sample index of an absolute millisecond offset (never accumulated)."""
    return (ms * sample_rate + 500) // 1000


def samples_to_ms(samples: int, sample_rate: int) -> int:
    """Milliseconds that hold `samples`, rounded up so a clip always fits its event."""
    return -(-samples * 1000 // sample_rate)


@dataclass(frozen=True, slots=True)
class Event:
    start: int
    """Milliseconds from the start of the routine."""
    duration: int
    kind: Kind
    text: str | None = None
    """The spoken text (speech), or what the interval is for (hold, breathe, rest)."""
    name: str | None = None
    """The sound (chime), or the breath direction (breathe: in, out, hold)."""
    technique: str | None = None
    side: str | None = None

    @property
    def end(self) -> int:
        return self.start + self.duration

    def to_json(self) -> dict[str, object]:
        return {
            "start": self.start / 1000,
            "duration": self.duration / 1000,
            "kind": self.kind,
            "text": self.text,
            "name": self.name,
            "technique": self.technique,
            "side": self.side,
        }


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    """The technique's title, or "Introduction" / "Closing"."""
    start: int
    duration: int
    events: tuple[Event, ...]
    technique: str | None = None
    """The technique's title; None for the preamble and outro."""
    warnings: tuple[str, ...] = ()
    """Where the routine could not be laid out as written (a breath window made longer)."""
    posture: Posture | None = None
    """Where the body is: the technique's posture (or the one it keeps), the first
    technique's in the opening, the last one's in the closing; so that words said during
    the section (a stop) fit it. None: no technique says."""

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Timeline:
    title: str
    sections: tuple[Section, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for s in self.sections for w in s.warnings))

    @property
    def duration(self) -> int:
        return self.sections[-1].end if self.sections else 0

    @property
    def events(self) -> tuple[Event, ...]:
        """All events sorted by start (intervals before what happens inside them)."""
        order = {"hold": 0, "breathe": 0, "rest": 0, "chime": 1, "speech": 2}
        flat = [e for s in self.sections for e in s.events]
        return tuple(sorted(flat, key=lambda e: (e.start, order[e.kind])))

    @property
    def spoken(self) -> tuple[str, ...]:
        """Every distinct cue text, in order of first use."""
        return tuple(dict.fromkeys(e.text for e in self.events if e.kind == "speech" and e.text))

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "duration": self.duration / 1000,
            "events": [e.to_json() for e in self.events],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)
