"""Where the player's sound goes: a small interface, simpleaudio behind it, and fakes for tests.

simpleaudio is archived upstream and has sharp edges, all kept in this module: an empty buffer
kills the process, `wait_done()` can crash at exit, every `play_buffer` opens the device anew,
and `stop()` cuts without a fade. It plays straight from the buffer it is given (no copy), so a
playback owns its own array and can fade it out in place before stopping.
"""

from __future__ import annotations

import ctypes
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .clip import SAMPLE_RATE
from .errors import AudioDeviceError

if TYPE_CHECKING:
    from .render import Samples

FADE_AHEAD = 0.25
"""Seconds ahead of the play position where a fade can still be written: simpleaudio keeps up
to two 100 ms chunks in flight."""
FADE = 0.03


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None: ...


class Playback(Protocol):
    pcm: Samples
    """The buffer being played; writable in place ahead of the play position."""
    started: float
    """Clock time when the first sample was handed to the device."""

    def is_playing(self) -> bool: ...

    def stop(self, *, at_once: bool = False) -> None:
        """Stop; with a short fade unless `at_once` (Ctrl-C), which cuts immediately."""
        ...


class Sink(Protocol):
    def check(self) -> None:
        """Raise AudioDeviceError if there is no device to play on."""
        ...

    def play(self, pcm: Samples) -> Playback:
        """Start playing mono 16-bit PCM at SAMPLE_RATE now; the sink takes ownership of it."""
        ...

    def mark(self, frames: int) -> Playback:
        """Play `frames` of silence: it stops playing once the device has consumed that much,
        which simpleaudio's play position (it has none) cannot tell."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


_SILENCER: Any = None


def _uses_alsa() -> bool:
    """simpleaudio plays through ALSA on Linux only (CoreAudio on macOS, WinMM on Windows)."""
    return sys.platform.startswith("linux")


def _silence_alsa() -> None:
    """ALSA prints its own errors to stderr; we report one clean line instead."""
    global _SILENCER
    if _SILENCER is not None or not _uses_alsa():
        return
    try:
        alsa = ctypes.CDLL("libasound.so.2")
    except OSError:
        return
    handler = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )
    _SILENCER = handler(lambda *_: None)  # kept referenced: ALSA holds the pointer
    alsa.snd_lib_error_set_handler(_SILENCER)


STOP_WAIT_S = 0.25
"""How long a faded stop waits for simpleaudio's thread to let go of the device and buffer."""

_DRAINING: list[Any] = []
"""simpleaudio plays stopped at once whose thread may still be running: after a stop, the
thread plays out what it has handed to ALSA (`snd_pcm_drain`, up to about 0.2 s) before it
ends, and one still running when the interpreter exits may crash it (a SIGSEGV once seen
after `play | head -1`). See docs/player.md."""


def still_sounding() -> bool:
    """Whether a playback stopped at once is still draining: the `voiceguide` process then
    ends without the interpreter's teardown (cli.app.console)."""
    _DRAINING[:] = [play for play in _DRAINING if play.is_playing()]
    return bool(_DRAINING)


@dataclass(slots=True)
class SimpleaudioPlayback:
    pcm: Samples
    started: float
    _play: Any
    clock: Clock

    def is_playing(self) -> bool:
        return bool(self._play.is_playing())

    def stop(self, *, at_once: bool = False) -> None:
        if not self.is_playing():
            return
        if at_once:  # no wait: that would let the drain be heard (Ctrl-C) or hold up a tick
            self._play.stop()
            still_sounding()  # forget those done
            _DRAINING.append(self._play)
            return
        at = int((self.clock.now() - self.started + FADE_AHEAD) * SAMPLE_RATE)
        fade = int(FADE * SAMPLE_RATE)
        if at < len(self.pcm):
            import numpy as np

            segment = self.pcm[at : at + fade]
            ramp = 1.0 - (1.0 + np.arange(len(segment))) / fade
            if segment.ndim == 2:
                ramp = ramp[:, np.newaxis]
            segment[:] = (segment * ramp).astype(segment.dtype)
            self.pcm[at + fade : at + fade + SAMPLE_RATE] = 0  # all it can reach: not
            # the whole buffer, which may be a mapped file of hours
            self.clock.sleep(FADE_AHEAD + FADE)
        self._play.stop()
        deadline = time.monotonic() + STOP_WAIT_S  # what drains now is the silence after the fade
        while self._play.is_playing() and time.monotonic() < deadline:
            time.sleep(0.002)


class SimpleaudioSink:
    """The real device, through simpleaudio: ALSA (or PulseAudio through it) on Linux, CoreAudio
    on macOS, WinMM on Windows. The device is probed by playing through simpleaudio itself."""

    def __init__(self, clock: Clock | None = None) -> None:
        try:
            import simpleaudio
        except ImportError as exc:  # built from source: needs libasound2-dev
            raise AudioDeviceError(f"simpleaudio is not available ({exc})") from exc
        self._sa = simpleaudio
        self.clock = clock or SystemClock()
        _silence_alsa()

    def check(self) -> None:
        import numpy as np

        self.play(np.zeros(SAMPLE_RATE // 100, dtype=np.int16)).stop(at_once=True)

    def play(self, pcm: Samples) -> Playback:
        import numpy as np

        channels = pcm.shape[1] if pcm.ndim == 2 else 1
        if len(pcm) == 0:  # simpleaudio crashes on an empty buffer
            pcm = np.zeros((1, channels), dtype=np.int16)
        pcm = np.ascontiguousarray(pcm, dtype=np.int16)
        try:
            play = self._sa.play_buffer(pcm, channels, 2, SAMPLE_RATE)
        except Exception as exc:  # simpleaudio's own SimpleaudioError, not exported
            reason = str(exc).split("MSG:")[-1].strip() or str(exc)
            system = "ALSA" if _uses_alsa() else "simpleaudio"
            raise AudioDeviceError(f"no sound device to play on ({system}: {reason})") from exc
        return SimpleaudioPlayback(pcm, self.clock.now(), play, self.clock)

    def mark(self, frames: int) -> Playback:
        import numpy as np

        return self.play(np.zeros(frames, dtype=np.int16))  # pages never written: no memory


# --- fakes for tests ----------------------------------------------------------------------


@dataclass(slots=True)
class FakeClock:
    """Time that moves only when told to (or when someone sleeps)."""

    t: float = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass(slots=True)
class FakePlayback:
    pcm: Samples
    started: float
    clock: FakeClock
    stopped: float | None = None
    stuck: bool = False
    """Never consumed: a suspended device."""

    def is_playing(self) -> bool:
        return self.stopped is None and (
            self.stuck or self.clock.now() < self.started + len(self.pcm) / SAMPLE_RATE
        )

    def stop(self, *, at_once: bool = False) -> None:
        if self.stopped is None:
            self.stopped = min(self.clock.now(), self.started + len(self.pcm) / SAMPLE_RATE)

    def heard(self) -> Samples:
        """The samples that reached the listener."""
        end = self.clock.now() if self.stopped is None else self.stopped
        return self.pcm[: max(0, round((end - self.started) * SAMPLE_RATE))]


@dataclass(slots=True)
class FakeSink:
    """Records every playback against a FakeClock; `available=False` acts out a missing device."""

    clock: FakeClock
    available: bool = True
    stuck: bool = False
    """Acts out a device that takes audio but never plays it (markers never end)."""
    playbacks: list[FakePlayback] = field(default_factory=list)
    markers: list[FakePlayback] = field(default_factory=list)

    def check(self) -> None:
        if not self.available:
            raise AudioDeviceError("no sound device to play on (fake)")

    def play(self, pcm: Samples) -> Playback:
        self.check()
        playback = FakePlayback(pcm.copy(), self.clock.now(), self.clock)
        self.playbacks.append(playback)
        return playback

    def mark(self, frames: int) -> Playback:
        import numpy as np

        self.check()
        marker = FakePlayback(np.zeros(frames, np.int16), self.clock.now(), self.clock)
        marker.stuck = self.stuck
        self.markers.append(marker)
        return marker
