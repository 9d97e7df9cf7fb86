"""Routine and technique files (TOML) -> frozen definitions, validated against one table.

Every problem in a file is collected, not just the first, so `voiceguide check` can list them
all. Files are only ever parsed as data, never executed.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from . import catalog
from .catalog import builtin_routines, builtin_techniques, load_routine
from .config import ENGINES, PACE_EXPECTED, RATE_MAX, RATE_MIN, valid_pace
from .errors import Problem, RoutineError
from .names import did_you_mean, valid

__all__ = ["builtin_routines", "builtin_techniques", "load_routine"]  # from .catalog

MAX_FILE_BYTES = 1_000_000
MAX_SECONDS = 600
MAX_TEXT = 1000
MAX_SIDE = 40
MAX_REPS = 50
MAX_STEP_RUNS = 10_000
"""Steps a routine may run in all, every rep and side counted: a bound on the work of compiling
it (1 ms rests would otherwise let a 1 MB file run to millions of events inside 3 hours)."""
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
    pan: bool = True
    """In stereo, cues of the left or right side lean toward that ear."""
    transition_ms: int = DEFAULT_TRANSITION_MS
    path: Path | None = None
    """The routine file, which an export must never write over."""


# --- values -------------------------------------------------------------------------------


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
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"must be {expected}, {_found(value)}")
    if (
        (isinstance(value, float) and math.isnan(value))
        or not (0 <= value <= MAX_SECONDS)
        or (value == 0 and not low_inclusive)
    ):
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
    from . import sounds

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
    from .ambience import BEDS, OFF

    name = _text(value, 200)
    if name not in BEDS and name != OFF and not name.lower().endswith(".wav"):
        raise _Bad(
            f"must name a bed ({', '.join(BEDS)}), be {OFF!r}, or a .wav file in the "
            f"routine's folder, {_found(value)}"
        )
    return name


def _engine(value: object) -> str:
    if not isinstance(value, str) or value not in ENGINES:
        raise _Bad(f"must be one of {', '.join(ENGINES)}, got {_found(value)}")
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


# --- the table of keys --------------------------------------------------------------------
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


@dataclass(slots=True)
class _Reader:
    """Collects problems for one file while its tables are checked against the key table."""

    file: str
    folder: Path | None = None
    """The routine file's folder: the only place its own sound files may come from."""
    problems: list[Problem] = field(default_factory=list)

    def sound_file(self, name: str, place: str, key: str = "chime") -> str | None:
        """The absolute path of a routine's own sound, if it is a real audio file inside the
        routine's folder (no absolute paths, no "..", no link leading out)."""
        from . import sounds

        where = f"{place}, {key}" if place else key
        if self.folder is None:
            self.problem(where, "a sound file can only be used from a routine file")
            return None
        folder = self.folder.resolve()
        path = (folder / name).resolve()
        if Path(name).is_absolute() or ".." in Path(name).parts or not path.is_relative_to(folder):
            self.problem(where, f"must be a file inside the routine's folder, got {_shown(name)}")
            return None
        try:
            sounds.load_file(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problem(where, f"{_shown(name)} is not a sound we can play: {reason}")
            return None
        return str(path)

    def problem(self, place: str, message: str) -> None:
        self.problems.append(Problem(self.file, place, message))

    def fields(
        self,
        table: object,
        keys: tuple[tuple[str, Callable[[object], Any], bool], ...],
        place: str,
        what: str,
    ) -> dict[str, Any] | None:
        """The checked values of `table`'s keys, or None if any is wrong (problems recorded)."""
        if not isinstance(table, dict):
            self.problem(place, f"{what} must be a table, {_found(table)}")
            return None
        known = [k for k, _, _ in keys]
        values: dict[str, Any] = {}
        ok = True
        for key in table:
            if key not in known:
                self.problem(
                    place, f"unknown key {_shown(key)} in {what}{did_you_mean(key, known)}"
                )
                ok = False
        for key, check, required in keys:
            if key not in table:
                if required:
                    self.problem(place, f"{what} needs {key!r}")
                    ok = False
                continue
            try:
                values[key] = check(table[key])
            except _Bad as bad:
                self.problem(f"{place}, {key}" if place else key, str(bad))
                ok = False
        return values if ok else None


def _step(reader: _Reader, raw: object, place: str) -> Step | None:
    if not isinstance(raw, dict):
        reader.problem(place, f'a step must be a table like {{ say = "..." }}, {_found(raw)}')
        return None
    kinds = [k for k in ("breathe", "hold", "rest", "chime") if k in raw]
    if len(kinds) > 1:
        reader.problem(
            place,
            f"a step takes exactly one of breathe, hold, rest, chime, say; "
            f"got {' and '.join(kinds)}",
        )
        return None
    kind = kinds[0] if kinds else "say"
    if not kinds and "say" not in raw:
        keys = ", ".join(map(_shown, list(raw)[:5])) + (", ..." if len(raw) > 5 else "")
        keys = keys or "nothing"
        reader.problem(place, f"a step needs one of say, breathe, hold, rest, chime; got {keys}")
        return None
    values = reader.fields(raw, STEP_KINDS[kind], place, f"a {kind} step")
    if values is None:
        return None
    match kind:
        case "breathe":
            return Breathe(values["breathe"], values["seconds"], values.get("say"))
        case "hold":
            return Hold(values["hold"], values.get("say"))
        case "rest":
            return Rest(values["rest"])
        case "chime":
            sound = values["chime"]
            if sound.lower().endswith(".wav"):
                sound = reader.sound_file(sound, place)
            return Chime(sound) if sound else None
    return Say(values["say"])


def _technique(
    reader: _Reader, raw: object, place: str, tid: str | None = None
) -> Technique | None:
    values = reader.fields(raw, TECHNIQUE_KEYS, place, "a technique")
    steps_raw = raw.get("steps") if isinstance(raw, dict) else None
    if (
        isinstance(raw, dict)
        and "steps" in raw
        and (not isinstance(steps_raw, list) or not steps_raw)
    ):
        reader.problem(
            f"{place}, steps" if place else "steps",
            f"must be a non-empty list of steps, {_found(steps_raw)}",
        )
        return None
    if values is None or not isinstance(steps_raw, list):
        return None
    prefix = f"{place}, " if place else ""
    steps = [_step(reader, s, f"{prefix}step {i}") for i, s in enumerate(steps_raw, 1)]
    if any(s is None for s in steps):
        return None
    technique = Technique(
        title=values["title"],
        steps=tuple(s for s in steps if s is not None),
        id=tid,
        sides=values.get("sides", ()),
        reps=values.get("reps", 1),
        position=values.get("position"),
        equipment=values.get("equipment", ()),
        safety=values.get("safety"),
        summary=values.get("summary"),
        posture=values.get("posture"),
        transition_ms=values.get("transition"),
        brief_position=values.get("brief_position"),
        brief_safety=values.get("brief_safety"),
    )
    _check_sides(reader, technique, place)
    return technique


def _texts(technique: Technique) -> list[str]:
    texts = [technique.title, technique.position, technique.safety]
    texts += [technique.brief_position, technique.brief_safety]
    texts += [getattr(s, "text", None) for s in technique.steps]
    return [t for t in texts if t]


def _check_sides(reader: _Reader, technique: Technique, place: str) -> None:
    uses_side = any("{side}" in t for t in _texts(technique))
    if uses_side and not technique.sides:
        reader.problem(place, "text uses {side} but the technique has no sides")
    longest = max((len(s) for s in technique.sides), default=0)
    for text in _texts(technique):
        if len(text.replace("{side}", "x" * longest)) > MAX_TEXT:
            reader.problem(
                place,
                f"a cue must be at most {MAX_TEXT} characters once "
                f"{{side}} is filled in: {text[:30]!r}...",
            )


def _use(reader: _Reader, raw: dict[str, Any], place: str) -> Technique | None:
    values = reader.fields(raw, USE_KEYS, place, "a technique with 'use'")
    if values is None:
        return None
    base = catalog.find_technique(values["use"])
    if base is None:
        reader.problem(
            f"{place}, use",
            f"no technique {_shown(values['use'])}"
            + valid(values["use"], catalog.technique_ids(), "techniques", "voiceguide list"),
        )
        return None
    technique = base
    if "transition" in values:
        technique = replace(technique, transition_ms=values["transition"])
    if "reps" in values:
        technique = replace(technique, reps=values["reps"])
    if "sides" in values:
        technique = replace(technique, sides=values["sides"])
    if "hold" in values:
        steps = tuple(
            Hold(values["hold"], s.text) if isinstance(s, Hold) else s for s in technique.steps
        )
        technique = replace(technique, steps=steps)
    _check_sides(reader, technique, place)
    return technique


# --- files --------------------------------------------------------------------------------


def _read_toml(path: Path, name: str) -> dict[str, Any]:
    """Parse a TOML file, turning every way it can be unreadable into one RoutineError line."""

    def fail(message: str) -> RoutineError:
        return RoutineError([Problem(name, "", message)])

    try:
        if path.is_dir():
            raise fail("is a folder, not a routine file")
        # Opened without waiting for a writer (a FIFO would hang here), then only a regular file
        # is read, and no more than the limit, whatever stat says.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise fail("is not a regular file; a routine is a .toml text file")
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise fail(f"is larger than {MAX_FILE_BYTES // 1000} kB; is it really a routine?")
    except FileNotFoundError:
        raise fail("no such file") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")  # some editors write one
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RoutineError([Problem(name, f"line {line}", "not UTF-8 text")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r" \(at (line (\d+), column \d+|end of document)\)$", str(exc))
        message = str(exc)[: at.start()] if at else str(exc)
        place = f"line {at.group(2) if at and at.group(2) else text.count(chr(10)) + 1}"
        raise RoutineError([Problem(name, place, f"invalid TOML: {message}")]) from None
    except RecursionError:
        raise fail("invalid TOML: nested too deeply") from None
    except ValueError:  # an integer of more than 4300 digits: Python refuses to convert it
        raise fail("invalid TOML: a number has too many digits") from None


def read_technique(
    path: Path, tid: str | None = None, name: str | None = None, folder: Path | None = None
) -> Technique:
    """A technique file: the keys of an inline technique at the top level. `name` is the file
    as messages call it; `folder`, where its own sound files may be (None: nowhere)."""
    name = name or path.name
    reader = _Reader(name, folder)
    technique = _technique(reader, _read_toml(path, name), "", tid or path.stem)
    if reader.problems or technique is None:
        raise RoutineError(reader.problems)
    return technique


def parse_routine(data: dict[str, Any], name: str, folder: Path | None = None) -> Routine:
    """Check a parsed routine table and build the Routine; raises with every problem found.
    `folder` is where the routine's own sound files may be."""
    reader = _Reader(name, folder)
    values = reader.fields(data, ROUTINE_KEYS, "", "a routine") or {}
    raw_techniques = data.get("technique")
    techniques: list[Technique] = []
    if "technique" in data and (not isinstance(raw_techniques, list) or not raw_techniques):
        reader.problem(
            "technique", f"must be one or more [[technique]] tables, {_found(raw_techniques)}"
        )
    elif isinstance(raw_techniques, list):
        for i, raw in enumerate(raw_techniques, 1):
            place = f"technique {i}"
            made = (
                _use(reader, raw, place)
                if isinstance(raw, dict) and "use" in raw
                else _technique(reader, raw, place)
            )
            if made is not None:
                techniques.append(made)
    runs = sum(len(t.steps) * t.reps * max(1, len(t.sides)) for t in techniques)
    if runs > MAX_STEP_RUNS:
        reader.problem(
            "",
            f"a routine may run at most {MAX_STEP_RUNS} steps in all (every rep and side "
            f"counted), this one runs {runs}",
        )
    ambience = values.get("ambience")
    if ambience is not None and ambience.lower().endswith(".wav"):
        ambience = reader.sound_file(ambience, "", "ambience")
    if reader.problems:
        raise RoutineError(reader.problems)
    return Routine(
        title=values["title"],
        techniques=tuple(techniques),
        source=name,
        summary=values.get("summary"),
        rate=values.get("rate"),
        voice=values.get("voice"),
        engine=values.get("engine"),
        pace=values.get("pace"),
        ambience=ambience,
        pan=values.get("pan", True),
        transition_ms=values.get("transition", DEFAULT_TRANSITION_MS),
    )


def read_routine(path: Path) -> Routine:
    routine = parse_routine(_read_toml(path, path.name), path.name, path.parent)
    return replace(routine, path=path)
