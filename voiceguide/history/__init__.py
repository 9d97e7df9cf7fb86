"""Every play, in an SQLite database in the user's data folder: what was played, how, how far
it got and how it ended; the streak and totals `voiceguide history` shows; where `--resume`
carries on.

A session's row is written when it starts and updated as each technique ends, in WAL mode, so
a process killed mid-session leaves a row that says where it stopped. A database that is
locked, damaged or unwritable never stops a session: one warning, and it plays without
history (`Journal` turns every failure into that warning and goes quiet).

One module per idea: `clock` (the time every stamp comes from; tests move `clock.now`),
`database` (the file, its schema, opening it), `rows` (a session as its row holds it),
`queries` (what is read back: the summary, full guidance due, the resume point) and `journal`
(a session's row written as it is played).
"""

from .clock import now
from .database import BUSY_MS, MIGRATIONS, HistoryError, database_path, opened
from .journal import Journal, Recorder
from .queries import (
    LONG_BREAK_DAYS,
    Summary,
    last_unfinished,
    needs_full,
    resume_point,
    sessions,
    streak,
    summary,
)
from .rows import SHOWN, Outcome, Safety, Session, ending, routine_hash

__all__ = [
    "BUSY_MS",
    "LONG_BREAK_DAYS",
    "MIGRATIONS",
    "SHOWN",
    "HistoryError",
    "Journal",
    "Outcome",
    "Recorder",
    "Safety",
    "Session",
    "Summary",
    "database_path",
    "ending",
    "last_unfinished",
    "needs_full",
    "now",
    "opened",
    "resume_point",
    "routine_hash",
    "sessions",
    "streak",
    "summary",
]
