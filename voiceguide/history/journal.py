"""Writing a session as it is played: the Recorder the player feeds section by section, and
the Journal under it that keeps the session's row up to date. A database that cannot be
written never stops a session: one warning, then the session plays without history.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast, get_args

from . import clock
from .database import _connect, _reason, database_path
from .rows import Outcome, Safety

_log = logging.getLogger("voiceguide.history")


@dataclass(slots=True)
class Journal:
    """One session's row, kept up to date; every failure one warning, then silence."""

    path: Path
    connection: sqlite3.Connection | None = None
    row: int | None = None

    def begin(self, **values: object) -> None:
        """Open the database and write the session's row (see MIGRATIONS for the columns).
        A signal may land between the insert and learning its id: `end` finds it then."""
        stamp = clock.now().isoformat()
        with self._guard():
            self.connection = _connect(self.path)
            names = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cursor = self.connection.execute(
                f"INSERT INTO sessions ({names}, started, ended) VALUES ({marks}, ?, ?)",
                (*values.values(), stamp, stamp),
            )
            self.row = cursor.lastrowid

    def _found(self) -> None:
        """The row this connection inserted, if a signal came before its id was kept."""
        if self.row is None and self.connection is not None:
            with self._guard():
                self.row = self.connection.execute("SELECT last_insert_rowid()").fetchone()[0]
                self.row = self.row or None

    @property
    def recording(self) -> bool:
        return self.connection is not None and self.row is not None

    def reached(self, technique: int, title: str | None) -> None:
        """The listener is now in this technique (the one before it is over)."""
        self._update("technique = ?, technique_title = ?", technique, title)

    def said(self, commands: int) -> None:
        """Voice commands heard so far."""
        self._update("commands = ?", commands)

    def hurt(self, safety: Safety) -> None:
        """What came of an "it hurts", so far."""
        self._update("safety = ?", safety)

    def end(self, outcome: Outcome) -> None:
        self._found()
        self._update("outcome = ?", outcome)
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self.connection.close()
            self.connection = None

    def _update(self, assignments: str, *values: object) -> None:
        if not self.recording:
            return
        assert self.connection is not None
        with self._guard():
            self.connection.execute(
                f"UPDATE sessions SET {assignments}, ended = ? WHERE id = ?",
                (*values, clock.now().isoformat(), self.row),
            )

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            _log.warning(
                f"history: {self.path}: {_reason(exc)}; this session plays without history"
            )
            self.close()
            self.row = None


@dataclass(slots=True)
class Recorder:
    """A session as the player goes through it: its row is written when the first section
    starts (a session never heard is not one), and moved on at each technique."""

    routine: str
    title: str
    routine_hash: str
    engine: str | None
    voice: str | None
    rate: int | None
    pace: float | None
    detail: str | None
    first_technique: int
    titles: tuple[str, ...]
    """Every technique's title, in order."""
    path: Path | None = None
    journal: Journal | None = None
    commands: int = 0
    """Voice commands heard."""
    safety: Safety | None = None

    def entered(self, section: int) -> None:
        """The player entered section `section` (0: the opening; then the techniques played,
        from `first_technique` on; last, the closing)."""
        if self.journal is None:
            self.journal = Journal(self.path or database_path())  # first: `end` can find it
            self.journal.begin(
                routine=self.routine,
                title=self.title,
                routine_hash=self.routine_hash,
                engine=self.engine,
                voice=self.voice,
                rate=self.rate,
                pace=self.pace,
                detail=self.detail,
                first_technique=self.first_technique,
                techniques=len(self.titles),
            )
            if self.commands:
                self.journal.said(self.commands)
            if self.safety:
                self.journal.hurt(self.safety)
        if section == 0:
            return
        n = self.first_technique - 1 + section
        self.journal.reached(n, self.titles[n - 1] if n <= len(self.titles) else "Closing")

    @property
    def recording(self) -> bool:
        return self.journal is not None and self.journal.recording

    def heard(self, control: str, source: str) -> None:
        """A control acted on (player.on_control): voice commands are counted."""
        if source == "voice":
            self.commands += 1
            if self.journal is not None:
                self.journal.said(self.commands)

    def hurt(self, safety: str) -> None:
        """What came of an "it hurts" (player.on_safety): paused, continued or stopped."""
        if safety not in get_args(Safety):
            raise ValueError(f"no such safety outcome: {safety!r}")
        self.safety = cast(Safety, safety)
        if self.journal is not None:
            self.journal.hurt(self.safety)

    def end(self, outcome: Outcome) -> None:
        if self.journal is not None:
            self.journal.end(outcome)
