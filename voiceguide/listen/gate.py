"""Half-duplex: microphone audio counts only while the guide is silent.

The player says, every tick, when its next window of silence runs (player/quiet.py); a block
of microphone audio is heard only when it lies wholly inside that window, a short tail after
the guide's last sound (the room's echo, the output's latency) and a short lead before its
next. Everything else is dropped, and the utterance in progress with it, so the guide's own
voice never reaches the recognizer, however loud the speaker or the room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TAIL_S = 0.4
"""After the guide's last sound: its echo in a room, and what the device still had queued."""
LEAD_S = 0.15
"""Before its next sound: the microphone's own latency."""


@dataclass(slots=True)
class Gate:
    """The window of silence the player last announced; read from the listener's thread."""

    tail_s: float = TAIL_S
    lead_s: float = LEAD_S
    _window: tuple[float, float] = (math.inf, -math.inf)
    """(start, until) in clock seconds: one tuple, so a reader never sees half an update."""

    def window(self, start: float, until: float) -> None:
        self._window = (start, until)

    @property
    def announced(self) -> bool:
        """The player has told a window: it is running (and closed: not yet, or no more)."""
        return self._window[0] != math.inf

    def close(self) -> None:
        """The session is over: nothing is heard any more."""
        self._window = (math.inf, -math.inf)

    def open(self, start: float, end: float) -> bool:
        """Audio captured from clock time `start` to `end` was captured in silence."""
        quiet_from, quiet_until = self._window
        return quiet_from + self.tail_s <= start and end <= quiet_until - self.lead_s
