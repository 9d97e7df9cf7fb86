"""One session as its row holds it: what was played and how, how it ended (and how
`voiceguide history` names that), and the routine's hash, to know later whether it changed.

A row is read back like user input: every value through the check its column names (the
config's ranges, the routine language's text and whole numbers), since the file may have been
damaged or written by hand; a row that fails is skipped (queries.py warns).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ..config import DETAILS, ENGINES, RANGES
from ..language.values import MAX_TEXT, _Bad, _found, _text, _whole

Outcome = Literal[
    "playing",
    "finished",
    "quit",
    "interrupted",
    "terminated",
    "hung-up",
    "output-closed",
    "crashed",
    "device-lost",
]
"""How a session ended; "playing" is a row whose process never said (killed, power lost)."""
SHOWN: dict[str, str] = {
    "playing": "cut off",
    "finished": "finished",
    "quit": "stopped (q)",
    "interrupted": "Ctrl-C",
    "terminated": "terminated (SIGTERM)",
    "hung-up": "terminal closed",
    "output-closed": "output closed",
    "crashed": "crashed",
    "device-lost": "device lost",
}
"""How `voiceguide history` names each outcome."""
Safety = Literal["paused", "continued", "stopped"]
"""After "it hurts": still in the safety pause (the session ended there), or what was said."""


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
    commands: int = 0
    """Voice commands heard and acted on."""
    safety: Safety | None = None
    """What came of an "it hurts" (None: nothing hurt)."""

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
            "commands": self.commands,
            "safety": self.safety,
        }


class DamagedRow(Exception):
    """A row with a value no session could have written; the message names the column."""


def _moment(value: object) -> datetime.datetime:
    """A time as the journal writes it: ISO 8601 with its offset from UTC."""
    try:
        moment = datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise _Bad(f"must be a date and time with its offset from UTC, {_found(value)}")
    return moment


def _as_written(limit: int) -> Callable[[object], object]:
    """Text as the routine language accepts it (at most `limit` characters, no control
    characters, something in it), kept as written: a path's spaces are its own."""

    def check(value: object) -> object:
        _text(value, limit)
        return value

    return check


def _optional(check: Callable[[object], object]) -> Callable[[object], object]:
    return lambda value: None if value is None else check(value)


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Bad(f"must be one of {', '.join(choices)}, {_found(value)}")
        return value

    return check


def _in_range(key: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not RANGES[key].holds(value):
            raise _Bad(f"{RANGES[key].expected}, {_found(value)}")
        return value

    return check


_HASH = 64
_COUNT = 100_000
COLUMNS: tuple[tuple[str, Callable[[object], object]], ...] = (
    ("id", _whole(1, 2**63 - 1)),
    ("routine", _as_written(4096)),
    ("title", _as_written(MAX_TEXT)),
    ("routine_hash", _as_written(_HASH)),
    ("engine", _optional(_one_of(ENGINES))),
    ("voice", _optional(_as_written(200))),
    ("rate", _optional(_in_range("rate"))),
    ("pace", _optional(_in_range("pace"))),
    ("detail", _optional(_one_of(DETAILS))),
    ("started", _moment),
    ("ended", _moment),
    ("technique", _whole(0, _COUNT)),
    ("technique_title", _optional(_as_written(MAX_TEXT))),
    ("techniques", _whole(1, _COUNT)),
    ("outcome", _one_of(get_args(Outcome))),
    ("commands", _whole(0, _COUNT)),
    ("safety", _optional(_one_of(get_args(Safety)))),
)
"""Each column read back, and its check: the Session field of the same name gets what the
check returns. A new column is one line here (and its migration and field)."""
_COLUMNS = ", ".join(name for name, _ in COLUMNS)


def _session(row: tuple[object, ...]) -> Session:
    """The row's session; raises DamagedRow naming the first column that fails its check."""
    values: dict[str, object] = {}
    for (name, check), value in zip(COLUMNS, row, strict=True):
        try:
            values[name] = check(value)
        except _Bad as exc:
            raise DamagedRow(f"{name}: {exc}") from None
    session = Session(**values)  # type: ignore[arg-type]
    if session.technique > session.techniques + 1:
        raise DamagedRow(
            f"technique: must be at most techniques + 1 ({session.techniques + 1}), "
            f"got {session.technique}"
        )
    if session.ended < session.started:
        raise DamagedRow("ended: must not be before started")
    return session


SAFETY_SHOWN: dict[str, str] = {
    "paused": "it hurt: ended in the safety pause",
    "continued": "it hurt: carried on",
    "stopped": "it hurt: stopped",
}
"""How `voiceguide history` names what came of an "it hurts"."""


def ending(session: Session) -> str:
    """How a session ended, and where, for a table: "stopped (q) at Foam roller (4/5)"; then
    what came of an "it hurts", and the voice commands heard."""
    shown = SHOWN.get(session.outcome, session.outcome)
    if session.outcome == "finished":
        where = shown
    elif 1 <= session.technique <= session.techniques:
        where = f"{shown} at {session.technique_title} ({session.technique}/{session.techniques})"
    else:
        where = f"{shown} in the {'opening' if session.technique == 0 else 'closing'}"
    notes = [SAFETY_SHOWN[session.safety]] if session.safety else []
    if session.commands:
        notes.append(f"{session.commands} said")
    return "; ".join((where, *notes))
