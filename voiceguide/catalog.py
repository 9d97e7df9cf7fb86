"""Where routines and techniques come from: the built-ins shipped in library/, the user's own
technique files in the config folder's techniques/, and paths given on the command line.

A technique id works wherever a routine does: it becomes a routine of that one technique with
the usual opening and closing, so a single technique can be previewed, tried and exported.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Problem, RoutineError, UsageError
from .names import valid

if TYPE_CHECKING:
    from .language import Routine, Technique, Techniques

LIBRARY = Path(__file__).parent / "library"


@dataclass(frozen=True, slots=True)
class Source:
    """A routine or technique file as written, for `show --source`."""

    path: Path
    kind: str
    """"routine" or "technique"."""
    text: str


@functools.cache
def builtin_techniques() -> dict[str, Technique]:
    from dataclasses import replace

    from .language import read_technique

    return {
        p.stem: replace(read_technique(p), shipped=True)
        for p in sorted((LIBRARY / "techniques").glob("*.toml"))
    }


def builtin_routines() -> dict[str, Path]:
    return {p.stem: p for p in sorted((LIBRARY / "routines").glob("*.toml"))}


def user_folder() -> Path:
    """The user's own technique files: `techniques/` in the config folder."""
    from .config import config_dir

    return config_dir() / "techniques"


def user_paths() -> dict[str, Path]:
    """Every technique file of the user's, by id: one listing of the folder (os.scandir's file
    types, no stat per file)."""
    try:
        with os.scandir(user_folder()) as entries:
            found = [
                Path(e.path)
                for e in entries
                if e.name.endswith(".toml") and e.is_file() and not e.name.startswith(".")
            ]
    except OSError:
        return {}
    return {p.stem: p for p in sorted(found)}


def user_path(tid: str) -> Path | None:
    """The user's technique file of id `tid`, if there is one: looked up by its name alone,
    not by listing a folder of thousands."""
    if not tid or tid.startswith(".") or "/" in tid or "\\" in tid or "\0" in tid:
        return None
    path = user_folder() / f"{tid}.toml"
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def user_techniques(known: Container[str] = ()) -> dict[str, Technique | None]:
    """The user's technique files, read each time (they change while we run, in tests too),
    except those in `known` (ids whose file is known to be good: None stands for them).
    Every problem in every file is reported, with the file's full path."""
    builtins = builtin_techniques()
    found: dict[str, Technique | None] = {}
    problems: list[Problem] = []
    for tid, path in user_paths().items():
        if tid in builtins:
            problems.append(
                Problem(
                    str(path),
                    "",
                    f"a built-in technique is already called {tid!r}; rename the file "
                    f"(the id is the file name), e.g. to my-{tid}.toml",
                )
            )
            continue
        if tid in known:
            found[tid] = None
            continue
        try:
            found[tid] = _read_user(tid, path)
        except RoutineError as exc:
            problems += exc.problems
    if problems:
        raise RoutineError(problems)
    return found


def _read_user(tid: str, path: Path) -> Technique:
    from .language import read_technique

    return read_technique(path, tid, str(path), folder=path.parent)


def technique_ids() -> list[str]:
    """Every id `use` accepts, for messages: built-ins, then the user's (by file name only, so
    a broken user file does not hide the message being built)."""
    return [*builtin_techniques(), *(t for t in user_paths() if t not in builtin_techniques())]


def find_technique(tid: str) -> Technique | None:
    """A technique by id: a built-in, else one of the user's (that one file read, whatever
    else is in the folder)."""
    builtin = builtin_techniques().get(tid)
    if builtin is not None:
        return builtin
    path = user_path(tid)
    return None if path is None else _read_user(tid, path)


def is_technique(spec: str) -> bool:
    """A technique id, built-in or the user's."""
    return spec in builtin_techniques() or user_path(spec) is not None


def single(technique: Technique, source: str) -> Routine:
    """A routine of one technique, with the usual opening and closing."""
    from .language import Routine

    return Routine(technique.title, (technique,), source=source, summary=technique.summary)


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".toml") or "/" in spec or Path(spec).exists()


def techniques() -> Techniques:
    """What a routine's `use` may name: the built-ins, then the user's own."""
    from .language import Techniques

    return Techniques(find_technique, technique_ids)


def read_routine(path: Path) -> Routine:
    """A routine file, its `use` of a technique found here."""
    from . import language

    return language.read_routine(path, techniques())


def load_routine(spec: str) -> Routine:
    """A ROUTINE argument: a built-in routine's name, a technique id (built-in or the user's),
    or a path to a routine file."""
    routines = builtin_routines()
    if spec in routines:
        return read_routine(routines[spec])
    if spec in builtin_techniques():
        return single(builtin_techniques()[spec], f"{spec}.toml")
    if _looks_like_path(spec):
        return read_routine(Path(spec))
    technique = find_technique(spec)
    if technique is not None:
        return single(technique, str(user_folder() / f"{spec}.toml"))
    raise UsageError(f"no routine or technique {spec!r}{_choices(spec)}; or give a .toml path")


def _choices(spec: str) -> str:
    return valid(
        spec, [*builtin_routines(), *technique_ids()], "routines and techniques", "voiceguide list"
    )


def source(spec: str) -> Source:
    """The file behind a ROUTINE argument, as written: ready to copy and change."""
    if spec in builtin_routines():
        path, kind = builtin_routines()[spec], "routine"
    elif spec in builtin_techniques():
        path, kind = LIBRARY / "techniques" / f"{spec}.toml", "technique"
    elif not _looks_like_path(spec) and (own := user_path(spec)) is not None:
        path, kind = own, "technique"
    elif _looks_like_path(spec):
        path, kind = Path(spec), "routine"
    else:
        raise UsageError(f"no routine or technique {spec!r}{_choices(spec)}")
    try:
        return Source(path, kind, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RoutineError([Problem(spec, "", f"cannot read: {reason}")]) from None
