"""What is read back from the history: the sessions, the most recent first; the summary
`voiceguide history` shows (totals and the streak); whether a routine is due its full
guidance again; and the session `--resume` continues.
"""

from __future__ import annotations

import datetime
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..notices import warn_once
from . import clock
from .database import HistoryError, database_path, opened
from .rows import _COLUMNS, DamagedRow, Session, _session, ending


def _latest(
    connection: sqlite3.Connection,
    where: str = "",
    args: tuple[object, ...] = (),
    limit: int | None = None,
) -> list[Session]:
    """Sessions, the most recent first: all of them or those `where` picks, at most `limit`
    (None or 0: no limit). A damaged row is skipped, with one warning."""
    query = f"SELECT {_COLUMNS} FROM sessions {where} ORDER BY started DESC, id DESC"
    return list(itertools.islice(_valid(connection.execute(query, args)), limit or None))


def _valid(rows: Iterator[tuple[object, ...]]) -> Iterator[Session]:
    for row in rows:
        try:
            yield _session(row)
        except DamagedRow as exc:
            _skipped(str(row[0]), str(exc))


def _skipped(row: str, why: str) -> None:
    """Each damaged row once per run, however often the history is read."""
    warn_once(
        "voiceguide.history", f"history: {database_path()}: session {row} skipped, damaged: {why}"
    )


def sessions(connection: sqlite3.Connection, limit: int | None = None) -> list[Session]:
    """The most recent first."""
    return _latest(connection, limit=limit)


def last_unfinished(connection: sqlite3.Connection, routine: str | None = None) -> Session | None:
    """The most recent session (of this routine, if given), when it did not finish."""
    where, args = ("WHERE routine = ?", (routine,)) if routine else ("", ())
    latest = _latest(connection, where, args, limit=1)
    return latest[0] if latest and latest[0].unfinished else None


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
                f"{clock.local(s.started):%Y-%m-%d %H:%M}  {title:<28}  "
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
    today = today or clock.local(clock.now()).date()
    days = {clock.local(s.started).date() for s in every}
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
            played = _latest(connection, "WHERE routine = ? AND technique >= 1", (routine,))
    except HistoryError:
        return True
    if not played:
        return True
    last = max(s.started for s in played)
    return clock.now() - last > datetime.timedelta(days=LONG_BREAK_DAYS)


def resume_point(routine: str | None = None, path: Path | None = None) -> Session | None:
    """The session `--resume` continues: the latest (of this routine), if it did not finish.
    Raises HistoryError when the history cannot be read."""
    if not (path or database_path()).exists():
        return None
    with opened(path) as connection:
        return last_unfinished(connection, routine)
