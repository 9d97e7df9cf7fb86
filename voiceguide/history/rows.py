"""One session as its row holds it: what was played and how, how it ended (and how
`voiceguide history` names that), and the routine's hash, to know later whether it changed.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


def ending(session: Session) -> str:
    """How a session ended, and where, for a table: "stopped (q) at Foam roller (4/5)"."""
    shown = SHOWN.get(session.outcome, session.outcome)
    if session.outcome == "finished":
        return shown
    if 1 <= session.technique <= session.techniques:
        return f"{shown} at {session.technique_title} ({session.technique}/{session.techniques})"
    return f"{shown} in the {'opening' if session.technique == 0 else 'closing'}"
