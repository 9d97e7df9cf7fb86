"""Reading one file: its problems collected, not just the first, while each of its tables is
checked against the table of keys, and its own sound files found inside its folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..names import did_you_mean
from .definitions import Techniques
from .values import _Bad, _found, _shown


@dataclass(slots=True)
class _Reader:
    """Collects problems for one file while its tables are checked against the key table."""

    file: str
    folder: Path | None = None
    """The routine file's folder: the only place its own sound files may come from."""
    techniques: Techniques | None = None
    """Where `use` finds a technique by id (None: a technique file, which cannot `use`)."""
    problems: list[Problem] = field(default_factory=list)

    def sound_file(self, name: str, place: str, key: str = "chime") -> str | None:
        """The absolute path of a routine's own sound, if it is a real audio file inside the
        routine's folder (no absolute paths, no "..", no link leading out)."""
        from .. import sounds

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
