"""One value from a file, checked: each checker returns the value as the definitions hold it
(seconds as ms, text with its whitespace folded) or raises _Bad with a message that says what
was expected and what was found.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from ..config import (
    AMBIENCE_LEVEL_EXPECTED,
    ENGINES,
    PACE_EXPECTED,
    Range,
    valid_ambience_level,
    valid_pace,
)
from ..names import valid
from .definitions import POSTURES, Direction, Posture

MAX_SECONDS = 600
MAX_TEXT = 1000
MAX_SIDE = 40
MAX_REPS = 50


class _Bad(Exception):
    """A value failed its check; the message says what was expected and what was found."""


def _found(value: object) -> str:
    if isinstance(value, bool):
        return f"got {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"got {shown!r}" if value else "got an empty string"
    if isinstance(value, int) and not -(10**40) < value < 10**40:
        return "got a number with more than 40 digits"
    if isinstance(value, int | float):
        return f"got {value}"
    if isinstance(value, dict):
        return "got a table"
    if isinstance(value, list):
        return "got a list"
    return f"got a {type(value).__name__}"


def _shown(text: str) -> str:
    """A name from a file as a message quotes it: at most 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


ALLOWED = "\n\t\u200c\u200d"
"""Control and format characters text may hold: line breaks and tabs (made spaces), and ZERO
WIDTH NON-JOINER and JOINER, part of emoji sequences and of Persian and Indic writing."""


def _text(value: object, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be non-empty text, {_found(value)}")
    for ch in value:
        if ch not in ALLOWED and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise _Bad(f"must not contain control or unassigned characters, got U+{ord(ch):04X}")
    text = " ".join(value.split())
    if len(text) > limit:
        raise _Bad(f"must be at most {limit} characters, got {len(text)}")
    return text


SPOKEN_PUNCTUATION = "#%&*/@\\§¶"
"""Punctuation espeak-ng reads out ("and", "percent"); any other is only a pause."""


def sayable(text: str) -> bool:
    """Something to say: a letter, digit or symbol, or punctuation read out."""
    return any(
        ch.isalnum() or unicodedata.category(ch).startswith("S") or ch in SPOKEN_PUNCTUATION
        for ch in text
    )


def _cue(value: object) -> str:
    """Text that is spoken: it must have something to say, not only punctuation."""
    text = _text(value)
    if not sayable(text):
        raise _Bad(f"must have something to say, not only punctuation, {_found(value)}")
    return text


def _seconds_ms(value: object, low_inclusive: bool = False) -> int:
    expected = f"seconds in {'[' if low_inclusive else '('}0, {MAX_SECONDS}]"
    seconds = Range(0, MAX_SECONDS, expected, open_low=not low_inclusive)
    if not isinstance(value, int | float) or not seconds.holds(value):  # NaN, inf, true: no
        raise _Bad(f"must be {expected}, {_found(value)}")
    ms = round(value * 1000)
    if ms == 0 and not low_inclusive:
        raise _Bad(f"must be {expected} (at least 1 ms), {_found(value)}")
    return ms


def _whole(low: int, high: int, what: str = "a whole number") -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Bad(f"must be {what} from {low} to {high}, {_found(value)}")
        return value

    return check


def _direction(value: object) -> Direction:
    if value == "in" or value == "out" or value == "hold":
        return value
    raise _Bad(f'must be "in", "out" or "hold", {_found(value)}')


def _sound(value: object) -> str:
    from .. import sounds

    name = _text(value, 200)
    if name not in sounds.NAMES and not name.lower().endswith(".wav"):
        raise _Bad(
            f"must name a sound or a .wav file in the routine's folder, {_found(value)}"
            + valid(name, sounds.NAMES, "sounds", "voiceguide sounds")
        )
    return name


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, {_found(value)}")
    return value


def _ambience(value: object) -> str:
    from ..ambience import BEDS, OFF

    name = _text(value, 200)
    if name not in BEDS and name != OFF and not name.lower().endswith(".wav"):
        raise _Bad(
            f"must name a bed ({', '.join(BEDS)}), be {OFF!r}, or a .wav file in the "
            f"routine's folder, {_found(value)}"
        )
    return name


def _ambience_level(value: object) -> float:
    if not valid_ambience_level(value) or not isinstance(value, int | float):
        raise _Bad(f"{AMBIENCE_LEVEL_EXPECTED}, {_found(value)}")
    return float(value)


def _engine(value: object) -> str:
    if not isinstance(value, str) or value not in ENGINES:
        raise _Bad(f"must be one of {', '.join(ENGINES)}, {_found(value)}")
    return value


def _pace(value: object) -> float:
    if not valid_pace(value) or not isinstance(value, int | float):
        raise _Bad(f"{PACE_EXPECTED}, {_found(value)}")
    return float(value)


def _posture(value: object) -> Posture:
    for posture in POSTURES:
        if value == posture:
            return posture
    raise _Bad(f"must be one of {', '.join(map(repr, POSTURES))}, {_found(value)}")


def _sides(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 4:
        raise _Bad(f"must be a list of 1 to 4 side names, {_found(value)}")
    sides = tuple(_text(v, MAX_SIDE) for v in value)
    if len(set(sides)) != len(sides):
        raise _Bad(f"must not repeat a side, got {list(sides)}")
    return sides


def _equipment(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_text(value, 100),)
    if not isinstance(value, list):
        raise _Bad(f"must be text or a list of text, {_found(value)}")
    return tuple(_text(v, 100) for v in value)
