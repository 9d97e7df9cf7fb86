"""The frozen definitions a routine file becomes: steps, techniques and the routine.

Nothing here reads or checks a file (values.py and the readers do); these are what the
compiler, the phrases and the linter are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_TRANSITION_MS = 5000

Direction = Literal["in", "out", "hold"]
Posture = Literal["chair", "standing", "wall", "floor"]
POSTURES: tuple[Posture, ...] = ("chair", "standing", "wall", "floor")


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Breathe:
    direction: Direction
    ms: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    ms: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Rest:
    ms: int


@dataclass(frozen=True, slots=True)
class Chime:
    sound: str


Step = Say | Breathe | Hold | Rest | Chime


@dataclass(frozen=True, slots=True)
class Technique:
    title: str
    steps: tuple[Step, ...]
    id: str | None = None
    """The built-in's id (its file name), None for a technique written inline."""
    sides: tuple[str, ...] = ()
    reps: int = 1
    position: str | None = None
    equipment: tuple[str, ...] = ()
    safety: str | None = None
    summary: str | None = None
    posture: Posture | None = None
    """Where the body is: the opening, the closing and the transitions follow it."""
    brief_position: str | None = None
    """The one line after the title at `--detail brief`; None: the full position."""
    brief_safety: str | None = None
    """The safety cue at `--detail brief`; None: the full one (safety is never dropped)."""
    transition_ms: int | None = None
    """Its own quiet to get into position; None: the routine's, longer on a posture change."""
    shipped: bool = False
    """Shipped with voiceguide, its timing as written: a window its cue outgrows at a slow
    voice or a short pace is lengthened without a warning (nobody can act on one)."""


@dataclass(frozen=True, slots=True)
class Routine:
    title: str
    techniques: tuple[Technique, ...]
    source: str = ""
    """The file it came from, for messages."""
    summary: str | None = None
    rate: int | None = None
    voice: str | None = None
    engine: str | None = None
    pace: float | None = None
    """Scales holds, breaths, rests and transitions; the command line's --pace wins."""
    ambience: str | None = None
    """A bed's name, "off", or the absolute path of a WAV in the routine's folder."""
    ambience_level: float | None = None
    """Where the bed sits against the voice, LU; the command line's --ambience-level wins."""
    pan: bool = True
    """In stereo, cues of the left or right side lean toward that ear."""
    transition_ms: int = DEFAULT_TRANSITION_MS
    path: Path | None = None
    """The routine file, which an export must never write over."""


@dataclass(frozen=True, slots=True)
class Techniques:
    """The techniques a routine's `use` may name, handed down by whoever keeps them (the
    catalog): the language reads files without knowing where techniques live."""

    find: Callable[[str], Technique | None]
    """The technique with this id, or None."""
    ids: Callable[[], list[str]]
    """Every id, for the message that answers an unknown one."""
