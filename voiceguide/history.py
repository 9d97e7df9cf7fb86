"""Every play, in an SQLite database in the user's data folder: what was played, how, how far
it got and how it ended; the streak and totals `voiceguide history` shows; where `--resume`
carries on.

A session's row is written when it starts and updated as each technique ends, in WAL mode, so
a process killed mid-session leaves a row that says where it stopped. A database that is
locked, damaged or unwritable never stops a session: one warning, and it plays without
history (`Journal` turns every failure into that warning and goes quiet).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import VoiceguideError

_log = logging.getLogger(__name__)

Outcome = Literal["playing", "finished", "quit", "interrupted", "crashed", "device-lost"]
"""How a session ended; "playing" is a row whose process never said (killed, power lost)."""
SHOWN: dict[str, str] = {
    "playing": "cut off",
    "finished": "finished",
    "quit": "stopped (q)",
    "interrupted": "Ctrl-C",
    "crashed": "crashed",
    "device-lost": "device lost",
}
"""How `voiceguide history` names each outcome."""

BUSY_MS = 250
"""How long a write waits for another process's lock before it is given up: never longer
than a listener would notice."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        routine TEXT NOT NULL,
        title TEXT NOT NULL,
        routine_hash TEXT NOT NULL,
        engine TEXT,
        voice TEXT,
        rate INTEGER,
        pace REAL,
        detail TEXT,
        started TEXT NOT NULL,
        ended TEXT NOT NULL,
        first_technique INTEGER NOT NULL DEFAULT 1,
        technique INTEGER NOT NULL DEFAULT 0,
        technique_title TEXT,
        techniques INTEGER NOT NULL,
        outcome TEXT NOT NULL DEFAULT 'playing'
    );
    CREATE INDEX sessions_started ON sessions (started);
    """,
)
"""The schema, one step per version: version N is MIGRATIONS[:N] applied in order."""


def database_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("voiceguide")) / "history.sqlite3"


def now() -> datetime.datetime:
    """The time a session starts or moves on, in UTC (tests move it)."""
    return datetime.datetime.now(datetime.UTC)


def _connect(path: Path) -> sqlite3.Connection:
    """Open, set WAL and the schema up to date; raises sqlite3.Error or OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # Commits survive the process being killed without waiting for the disk (a write
        # happens in the player's loop); only a power cut may lose the last one.
        connection.execute("PRAGMA synchronous=NORMAL")
        _migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this voiceguide knows ({len(MIGRATIONS)})"
            )
        for step in range(version, len(MIGRATIONS)):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute("INSERT INTO schema_version VALUES (?)", (step + 1,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # BEGIN itself may be what failed (a lock)
            connection.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def opened(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """The database, for reading; raises HistoryError when it cannot be used."""
    path = path or database_path()
    try:
        connection = _connect(path)
    except (sqlite3.Error, OSError) as exc:
        raise HistoryError(f"{path}: {_reason(exc)}") from exc
    try:
        yield connection
    finally:
        connection.close()


class HistoryError(VoiceguideError):
    """The history database cannot be read (`history`, `--resume`); a session never stops
    for it."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def routine_hash(path: Path | None, fallback: str) -> str:
    """What the routine was, to know later whether it has changed: its file's bytes, or (for a
    technique played on its own) its definitions."""
    data = fallback.encode("utf-8")
    if path is not None:
        with contextlib.suppress(OSError):
            data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    """One row of the history."""

    id: int
    routine: str
    """As it was asked for: a built-in's name, a technique id, or a file's absolute path."""
    title: str
    routine_hash: str
    engine: str | None
    voice: str | None
    rate: int | None
    pace: float | None
    detail: str | None
    started: datetime.datetime
    ended: datetime.datetime
    technique: int
    """The technique being played when it last moved on (1-based; 0: still in the opening;
    techniques + 1: in the closing)."""
    technique_title: str | None
    techniques: int
    outcome: Outcome

    @property
    def minutes(self) -> float:
        return (self.ended - self.started).total_seconds() / 60

    @property
    def unfinished(self) -> bool:
        return self.outcome != "finished"

    def to_json(self) -> dict[str, object]:
        return {
            "routine": self.routine,
            "title": self.title,
            "routine_hash": self.routine_hash,
            "engine": self.engine,
            "voice": self.voice,
            "rate": self.rate,
            "pace": self.pace,
            "detail": self.detail,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "minutes": round(self.minutes, 2),
            "technique": self.technique,
            "technique_title": self.technique_title,
            "techniques": self.techniques,
            "outcome": self.outcome,
        }


_COLUMNS = (
    "id, routine, title, routine_hash, engine, voice, rate, pace, detail, started, ended, "
    "technique, technique_title, techniques, outcome"
)


def _session(row: tuple[object, ...]) -> Session:
    values = list(row)
    values[9] = datetime.datetime.fromisoformat(str(values[9]))
    values[10] = datetime.datetime.fromisoformat(str(values[10]))
    return Session(*values)  # type: ignore[arg-type]


def sessions(connection: sqlite3.Connection, limit: int | None = None) -> list[Session]:
    """The most recent first."""
    query = f"SELECT {_COLUMNS} FROM sessions ORDER BY started DESC, id DESC"
    rows = connection.execute(query + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
    return [_session(row) for row in rows]


def last_unfinished(connection: sqlite3.Connection, routine: str | None = None) -> Session | None:
    """The most recent session (of this routine, if given), when it did not finish."""
    where, args = ("WHERE routine = ?", (routine,)) if routine else ("", ())
    row = connection.execute(
        f"SELECT {_COLUMNS} FROM sessions {where} ORDER BY started DESC, id DESC LIMIT 1", args
    ).fetchone()
    if row is None:
        return None
    session = _session(row)
    return session if session.unfinished else None


def ending(session: Session) -> str:
    """How a session ended, and where, for a table: "stopped (q) at Foam roller (4/5)"."""
    shown = SHOWN.get(session.outcome, session.outcome)
    if session.outcome == "finished":
        return shown
    if 1 <= session.technique <= session.techniques:
        return f"{shown} at {session.technique_title} ({session.technique}/{session.techniques})"
    return f"{shown} in the {'opening' if session.technique == 0 else 'closing'}"


def streak(days: set[datetime.date], today: datetime.date) -> int:
    """Days in a row with a session, ending today (or yesterday: today's may be still to come)."""
    day = today if today in days else today - datetime.timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= datetime.timedelta(days=1)
    return count


@dataclass(frozen=True, slots=True)
class Summary:
    """What `voiceguide history` shows: recent sessions, and over all of them the minutes and
    the current streak of days (local days)."""

    recent: tuple[Session, ...]
    sessions: int
    minutes: float
    streak_days: int

    def table(self) -> list[str]:
        """The lines `voiceguide history` prints: a row per recent session, then totals."""
        if not self.sessions:
            return ["No sessions yet: voiceguide play starts one."]
        lines = [f"{'date':<16}  {'routine':<28}  {'minutes':>7}  ended"]
        for s in self.recent:
            title = s.title if len(s.title) <= 28 else s.title[:27] + "…"
            lines.append(
                f"{s.started.astimezone():%Y-%m-%d %H:%M}  {title:<28}  "
                f"{s.minutes:>7.1f}  {ending(s)}"
            )
        days = "day" if self.streak_days == 1 else "days"
        lines.append(
            f"total: {self.minutes:.1f} minutes in {self.sessions} session(s); "
            f"streak: {self.streak_days} {days}"
        )
        return lines

    def to_json(self) -> dict[str, object]:
        return {
            "sessions": [s.to_json() for s in self.recent],
            "count": self.sessions,
            "total_minutes": round(self.minutes, 2),
            "streak_days": self.streak_days,
        }


def summary(limit: int, today: datetime.date | None = None, path: Path | None = None) -> Summary:
    """The history as `voiceguide history` shows it; an empty one when there is no database
    yet. Raises HistoryError when it cannot be read."""
    if not (path or database_path()).exists():
        return Summary((), 0, 0.0, 0)
    with opened(path) as connection:
        every = sessions(connection)
    today = today or now().astimezone().date()
    days = {s.started.astimezone().date() for s in every}
    return Summary(
        tuple(every[:limit]), len(every), sum(s.minutes for s in every), streak(days, today)
    )


LONG_BREAK_DAYS = 30
"""After this long without a routine, its guidance is full again."""


def needs_full(routine: str, path: Path | None = None) -> bool:
    """Whether this routine is to be played at full detail whatever the config says: it has
    never been played past its opening, or not for LONG_BREAK_DAYS. An unreadable history
    counts as none (the session's own record then warns about it, once)."""
    path = path or database_path()
    if not path.exists():
        return True
    try:
        with opened(path) as connection:
            row = connection.execute(
                "SELECT max(started) FROM sessions WHERE routine = ? AND technique >= 1",
                (routine,),
            ).fetchone()
    except HistoryError:
        return True
    if row is None or row[0] is None:
        return True
    last = datetime.datetime.fromisoformat(str(row[0]))
    return now() - last > datetime.timedelta(days=LONG_BREAK_DAYS)


def resume_point(routine: str | None = None, path: Path | None = None) -> Session | None:
    """The session `--resume` continues: the latest (of this routine), if it did not finish.
    Raises HistoryError when the history cannot be read."""
    if not (path or database_path()).exists():
        return None
    with opened(path) as connection:
        return last_unfinished(connection, routine)


@dataclass(slots=True)
class Journal:
    """One session's row, kept up to date; every failure one warning, then silence."""

    path: Path
    connection: sqlite3.Connection | None = None
    row: int | None = None

    @classmethod
    def begin(cls, path: Path | None = None, **values: object) -> Journal:
        """Open the database and write the session's row (see MIGRATIONS for the columns)."""
        journal = cls(path or database_path())
        stamp = now().isoformat()
        with journal._guard():
            journal.connection = _connect(journal.path)
            names = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cursor = journal.connection.execute(
                f"INSERT INTO sessions ({names}, started, ended) VALUES ({marks}, ?, ?)",
                (*values.values(), stamp, stamp),
            )
            journal.row = cursor.lastrowid
        return journal

    @property
    def recording(self) -> bool:
        return self.connection is not None and self.row is not None

    def reached(self, technique: int, title: str | None) -> None:
        """The listener is now in this technique (the one before it is over)."""
        self._update("technique = ?, technique_title = ?", technique, title)

    def end(self, outcome: Outcome) -> None:
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
                (*values, now().isoformat(), self.row),
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

    def entered(self, section: int) -> None:
        """The player entered section `section` (0: the opening; then the techniques played,
        from `first_technique` on; last, the closing)."""
        if self.journal is None:
            self.journal = Journal.begin(
                self.path,
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
        if section == 0:
            return
        n = self.first_technique - 1 + section
        self.journal.reached(n, self.titles[n - 1] if n <= len(self.titles) else "Closing")

    @property
    def recording(self) -> bool:
        return self.journal is not None and self.journal.recording

    def end(self, outcome: Outcome) -> None:
        if self.journal is not None:
            self.journal.end(outcome)
