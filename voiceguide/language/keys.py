"""The table of keys: every key a step, a technique, a `use` and a routine may have, the check
its value must pass, and whether it is required. The one place that says what a file may say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import RATE_MAX, RATE_MIN
from .values import (
    MAX_REPS,
    _ambience,
    _ambience_level,
    _cue,
    _direction,
    _engine,
    _equipment,
    _flag,
    _pace,
    _posture,
    _seconds_ms,
    _sides,
    _sound,
    _text,
    _whole,
)

# Each step kind lists its keys: (key, check, required). The key naming the kind comes first.

STEP_KINDS: dict[str, tuple[tuple[str, Callable[[object], Any], bool], ...]] = {
    "breathe": (
        ("breathe", _direction, True),
        ("seconds", _seconds_ms, True),
        ("say", _cue, False),
    ),
    "hold": (("hold", _seconds_ms, True), ("say", _cue, False)),
    "rest": (("rest", _seconds_ms, True),),
    "chime": (("chime", _sound, True),),
    "say": (("say", _cue, True),),
}

ROUTINE_KEYS: tuple[tuple[str, Callable[[object], Any], bool], ...] = (
    ("title", _cue, True),
    ("summary", _text, False),
    ("rate", _whole(RATE_MIN, RATE_MAX, "words per minute"), False),
    ("voice", lambda v: _text(v, 100), False),
    ("engine", _engine, False),
    ("pace", _pace, False),
    ("ambience", _ambience, False),
    ("ambience_level", _ambience_level, False),
    ("pan", _flag, False),
    ("transition", lambda v: _seconds_ms(v, low_inclusive=True), False),
    ("technique", lambda v: v, True),
)

TECHNIQUE_KEYS: tuple[tuple[str, Callable[[object], Any], bool], ...] = (
    ("title", _cue, True),
    ("steps", lambda v: v, True),
    ("sides", _sides, False),
    ("reps", _whole(1, MAX_REPS), False),
    ("position", _cue, False),
    ("equipment", _equipment, False),
    ("safety", _cue, False),
    ("brief_position", _cue, False),
    ("brief_safety", _cue, False),
    ("summary", _text, False),
    ("posture", _posture, False),
    ("transition", lambda v: _seconds_ms(v, low_inclusive=True), False),
)

USE_KEYS: tuple[tuple[str, Callable[[object], Any], bool], ...] = (
    ("use", lambda v: _text(v, 100), True),
    ("reps", _whole(1, MAX_REPS), False),
    ("sides", _sides, False),
    ("hold", _seconds_ms, False),
    ("transition", lambda v: _seconds_ms(v, low_inclusive=True), False),
)
