"""The SQLite file: where it is, its schema and the steps that bring an older one up to date,
and opening it (WAL, a short wait for another process's lock). Every way it cannot be used
becomes one HistoryError.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..errors import VoiceguideError

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
    """
    ALTER TABLE sessions ADD COLUMN commands INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN safety TEXT;
    """,
)
"""The schema, one step per version: version N is MIGRATIONS[:N] applied in order."""


def database_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("voiceguide")) / "history.sqlite3"


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
        version = 0 if row[0] is None else row[0]
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise sqlite3.DatabaseError(f"schema version {version!r} is not a version: damaged")
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
