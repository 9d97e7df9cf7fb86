"""What the status line shows: the section, the step, the time left in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..program import sample_ms

if TYPE_CHECKING:
    from .playing import Player

State = Literal["playing", "paused", "confirming", "safety", "done"]
""""safety": stopped after "it hurts", until "continue" or "stop"."""


@dataclass(frozen=True, slots=True)
class Status:
    """What the status line shows, for whoever glances at the screen."""

    section: str
    step: str
    left_s: int | None
    """Seconds left in the current hold, breath or rest."""
    elapsed_ms: int
    total_ms: int
    paused: bool
    estimated: bool = False
    """`total_ms` is the estimate: the routine is still being made."""


def status_of(player: Player) -> Status:
    """The player's Status now: where the sound is (during "Next: ..." still the part it
    leaves), not where the controls act from."""
    here = player._here(player.position)
    ms = sample_ms(player.position)
    paused = player.state in ("paused", "safety")
    program = player.program
    with program.lock:
        made = program.sections[-1].end if program.sections else 0
        estimated = not program.complete
    total = max(made, program.expected_ms + program.shift_ms) if estimated else made
    if here is None:
        return Status("", "", None, ms, total, paused, estimated)
    _, section = here
    current = [e for e in section.events if e.start <= ms < e.end]
    interval = next((e for e in current if e.kind in ("hold", "breathe", "rest")), None)
    spoken = next((e for e in current if e.kind == "speech"), None)
    step = (
        f"breathe {interval.name}"
        if interval and interval.kind == "breathe"
        else interval.kind
        if interval
        else (spoken.text or "")
        if spoken
        else ""
    )
    left = -(-(interval.end - ms) // 1000) if interval else None
    return Status(section.title, step, left, ms, total, paused, estimated)
