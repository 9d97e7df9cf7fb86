"""When the player will be silent: what listening needs to hear the room, never the guide.

The player knows exactly when it makes sound: the routine's cues and chimes lie at known
offsets, and a confirmation's length is known when it starts. Each tick it tells a `Quiet`
(the listener's gate) the next window of silence in clock time; the bed is not sound here,
so a routine with a bed still has windows to listen in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

from ..program import sample_ms

if TYPE_CHECKING:
    from .playing import Player


class Quiet(Protocol):
    def window(self, start: float, until: float) -> None:
        """The player is silent from clock time `start` to `until` (inf: no sound planned)."""
        ...

    def close(self) -> None:
        """The session is over."""
        ...


def publish(player: Player, quiet: Quiet) -> None:
    """Tell `quiet` the player's current or next window of silence: from the end of its last
    sound (the routine's, or a confirmation's) to the start of its next."""
    now = player.clock.now()
    spoken = player._voice_ends  # a confirmation's end: past, or still to come
    if player.state in ("paused", "safety", "done"):
        quiet.window(spoken, math.inf)
        return
    if player.state == "confirming" or player._main is None:
        quiet.window(math.inf, -math.inf)  # about to play on from somewhere: not now
        return
    ms = sample_ms(player.position)
    last_end, next_start = _around(player, ms)
    start = max(spoken, now + (last_end - ms) / 1000)
    until = now + (next_start - ms) / 1000 if next_start is not None else math.inf
    quiet.window(start, until)


def _around(player: Player, ms: int) -> tuple[int, int | None]:
    """Where the last sound at or before `ms` ends (later than `ms` while one sounds, sounds
    that follow on without a gap included; 0 if none has); and where the next sound after it
    starts (the end of what is ready when nothing further is known yet)."""
    program = player.program
    last_end = 0
    next_start: int | None = None
    with program.lock:
        for section in program.sections:
            if section.end < ms - 60_000:
                continue
            for e in section.events:  # in time order within a section
                if e.kind not in ("speech", "chime"):
                    continue
                if e.start <= max(ms, last_end):
                    last_end = max(last_end, e.end)
                elif next_start is None or e.start < next_start:
                    next_start = e.start
        ready_end = program.sections[-1].end if program.sections else ms
        complete = program.complete
    if next_start is None and not complete:
        next_start = ready_end
    return last_end, next_start
