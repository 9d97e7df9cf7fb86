"""What the device has played: simpleaudio cannot say, so the player learns it two ways.

A silent *marker* stream as long as the main buffer's audio plays beside it: the device
consumes both at one pace, so the audio has been played once the marker has (a suspended or
stuck device holds both back). And a process stopped and continued (Ctrl-Z, SIGSTOP) fed the
device nothing meanwhile: a SIGCONT handler marks the continue, and the time since the last
tick is taken as lost. The measurements behind this are in docs/player.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .clip import SAMPLE_RATE
from .errors import AudioDeviceError
from .sink import Clock, Playback, Sink

STUCK_S = 30.0
"""How long past its end a marker may still be playing before the device counts as stuck: an
error, never a claimed success."""
PROBE_S = 1.0
"""A probe this long starts beside the first marker: a device that plays nothing at all is
found stuck STUCK_S after it ends, not after the whole routine has been waited out."""


@dataclass(slots=True)
class Heard:
    """Markers beside the main buffer, and stops of the process; one per player."""

    sink: Sink
    clock: Clock
    stuck_s: float = STUCK_S
    _marker: Playback | None = None
    """Silence as long as a stretch of the main buffer's audio, played alongside it."""
    _probe: Playback | None = None
    """A second of silence started beside the first marker after a start, on its own: the
    device has played anything at all once it ends."""
    _marked_to: int = 0
    """The routine sample up to which markers have been started."""
    _due: float = 0.0
    """When the current marker would end on a device that never stalls."""
    _ended_at: float | None = None
    """When the play position reached the end of the main buffer's audio, while the device
    had not played it yet."""
    _polled: float | None = None
    """Clock time of the last tick."""
    _continued: float | None = None
    """Clock time of a SIGCONT not yet accounted for (set from the signal handler)."""

    def restart(self, at: int) -> None:
        """A new main buffer starts playing from routine sample `at`."""
        self.stop()
        self._marked_to = at

    def follow(self, end: int) -> None:
        """Mark main audio up to `end` not yet covered, once the previous marker is played: the
        chain of markers lags the device, never runs ahead of it."""
        if self._marker is not None and self._marker.is_playing():
            return
        if end <= self._marked_to:
            return
        length = end - self._marked_to
        if self._marker is None:  # the first since a start
            self._probe = self.sink.mark(round(PROBE_S * SAMPLE_RATE))
        self._marker = self.sink.mark(length)
        self._due = self._marker.started + length / SAMPLE_RATE
        self._marked_to = end

    def stop(self) -> None:
        self._ended_at = None
        for playback in (self._marker, self._probe):
            if playback is not None:
                playback.stop(at_once=True)
        self._marker = self._probe = None

    def check(self, where: str) -> None:
        """Raise if the device has played nothing since the start (the probe still playing
        `stuck_s` after it should have ended), or the marker playing now should have ended
        `stuck_s` ago, wherever the play position is."""
        now, probe = self.clock.now(), self._probe
        if probe is not None and not probe.is_playing():
            self._probe = probe = None
        if probe is not None and now - (probe.started + PROBE_S) > self.stuck_s:
            raise self._stuck(now, where, probe.started + PROBE_S)
        marker = self._marker
        if marker is not None and now - self._due > self.stuck_s and marker.is_playing():
            raise self._stuck(now, where, self._due)

    def _stuck(self, now: float, where: str, due: float) -> AudioDeviceError:
        return AudioDeviceError(
            f"the sound device stopped playing: {now - due:.0f} s behind at {where} "
            "into the routine; check that the output is not suspended or held by another "
            "program"
        )

    def waiting(self, where: str) -> bool:
        """True while the device has not played all of the main buffer's audio, though the
        play position has reached its end; an error once it has been stuck for `stuck_s`.
        `where` says where in the routine, for the message."""
        marker = self._marker
        if marker is None or not marker.is_playing():
            self._ended_at = None
            return False
        now = self.clock.now()
        if self._ended_at is None:
            self._ended_at = now
        if now - max(self._due, self._ended_at) > self.stuck_s:
            raise self._stuck(now, where, self._due)
        return True

    def continued(self) -> None:
        """The process was stopped and has just been continued: call from the SIGCONT handler."""
        self._continued = self.clock.now()

    def lost(self) -> float:
        """Seconds the process was stopped since the last call (one a tick). The stop began
        after the last tick: all the time since is taken as lost, erring on the side of playing
        on a little longer."""
        now, continued, polled = self.clock.now(), self._continued, self._polled
        self._polled, self._continued = now, None
        if continued is None or polled is None:
            return 0.0
        lost = max(0.0, continued - polled)
        self._due += lost
        return lost


@contextlib.contextmanager
def on_continue(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` whenever the process is continued after a stop, where a handler can be
    set (the main thread, on a system with SIGCONT); the default action, continuing, stays."""
    import signal

    sigcont = getattr(signal, "SIGCONT", None)
    if sigcont is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(sigcont, lambda *_: callback())
    try:
        yield
    finally:
        signal.signal(sigcont, previous if previous is not None else signal.SIG_DFL)
