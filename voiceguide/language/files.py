"""Files to definitions: a TOML file read with every way it can be unreadable made one
problem, a technique file, and a routine (its own keys around its techniques, and a bound on
the work of compiling it).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import Problem, RoutineError
from .definitions import DEFAULT_TRANSITION_MS, Routine, Technique, Techniques
from .keys import ROUTINE_KEYS
from .reader import _Reader
from .steps import _technique, _use
from .values import _found

MAX_FILE_BYTES = 1_000_000
MAX_STEP_RUNS = 10_000
"""Steps a routine may run in all, every rep and side counted: a bound on the work of compiling
it (1 ms rests would otherwise let a 1 MB file run to millions of events inside 3 hours)."""


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


def parse_routine(
    data: dict[str, Any], name: str, known: Techniques, folder: Path | None = None
) -> Routine:
    """Check a parsed routine table and build the Routine; raises with every problem found.
    `known`: what `use` may name (the catalog's); `folder`: where the routine's own
    sound files may be."""
    reader = _Reader(name, folder, known)
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
        ambience_level=values.get("ambience_level"),
        pan=values.get("pan", True),
        transition_ms=values.get("transition", DEFAULT_TRANSITION_MS),
    )


def read_routine(path: Path, known: Techniques) -> Routine:
    """A routine file; `use` finds its techniques in `known` (the catalog's)."""
    routine = parse_routine(_read_toml(path, path.name), path.name, known, path.parent)
    return replace(routine, path=path)
