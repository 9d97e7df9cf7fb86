"""The Player: the rendered routine on the device's clock; controls (controls.py) move it.

Timing comes from the sound device, not from sleeping: the routine plays as one long buffer
(two on a cold start: the introduction, then the rest once it is synthesized), so cues cannot
drift. Controls stop and restart that buffer at a new place, or, for "+", open ten seconds of
silence in it ahead of the play position, in the buffer's spare tail.

The player ends on what the device has played, not on time elapsed (heard.py): a process
stopped and continued moves the play position back by the time it was stopped, and the
routine is over only once the device has consumed it. Its audio waits on disk (program.py,
tape.py), so memory does not grow with the routine.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..clip import SAMPLE_RATE
from ..heard import Heard, on_continue
from ..program import Program
from ..program import grid as _grid
from ..program import sample_ms as _ms
from ..sink import Clock, Playback, Sink
from ..tape import PIECE, Rest, mapped, release
from ..timeline import Section
from . import controls
from .controls import Control, Controls
from .quiet import Quiet, publish
from .status import State, Status, status_of

if TYPE_CHECKING:
    from ..render import Samples

EXTRA_MS = 10_000
"""What "+" adds to a hold."""
HEADROOM_S = 60
"""Silence after the routine in the playing buffer: room for six "+" presses without a restart."""
FILL_S = 60
"""Seconds of audio written into the playing buffer at a time (at the start, then each tick):
a quick start, and little in memory at once."""
SAFE_MS = 300
"""How far ahead of the play position the buffer may still be changed (simpleaudio reads up to
two 100 ms chunks ahead)."""
CHAIN_MS = 1000
"""When a buffer must hand over to another, it does so this long before its end: inside the
1.5 s of quiet that closes every section."""
QUIET_MS = 300
"""The least quiet kept between a confirmation and the routine's next words."""


def _clock_text(ms: int) -> str:
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes}:{seconds:02d}"


@dataclass(slots=True)
class Player:
    """Plays a Program on a Sink; `tick()` keeps it going; keys (`press`) and voice commands
    (`controls.put` from any thread) move it, in the order they come (controls.py)."""

    program: Program
    sink: Sink
    clock: Clock
    speak: Callable[[str], Samples]
    """A confirmation, ready to play: "Paused.", "Ten more seconds.", ..."""
    position: int = 0
    """Where the listener is, in samples on the routine's grid."""
    state: State = "playing"
    _main: Playback | None = None
    _main_from: int = 0
    _main_len: int = 0
    _resume_at: int = 0
    _then_quit: bool = False
    _voice: Playback | None = None
    _mapping: mmap.mmap | None = None
    """The file mapping behind the main buffer (tape.py)."""
    _released: int = 0
    """The routine sample up to which the main buffer has been dropped from memory."""
    heard: Heard = field(init=False)
    """What the device has played (heard.py)."""
    on_section: Callable[[int], None] | None = None
    """Called with a section's index when the listener enters it (history/journal.py)."""
    _section: int | None = None
    controls: Controls = field(default_factory=Controls)
    """What keys and voice ask for, acted on in order by the main loop."""
    on_control: list[Callable[[Control, str], None]] = field(default_factory=list)
    """Called with (control, source) before a control acts: "heard: ..." lines, the history."""
    quiet: Quiet | None = None
    """Told, every tick, when the player will next be silent (listening's half-duplex gate)."""
    stop_armed_until: float = -1.0
    """A spoken "stop" ends the session only if a second comes before this clock time."""
    safety_outcome: str | None = None
    """After "it hurts": "paused", then "continued" or "stopped", for the history."""
    on_safety: list[Callable[[str], None]] = field(default_factory=list)
    """Called with each new `safety_outcome`."""
    _voice_ends: float = 0.0
    """Clock time when the confirmation playing now will have been heard out."""

    def __post_init__(self) -> None:
        self.heard = Heard(self.sink, self.clock)

    # --- running ----------------------------------------------------------------------------

    def tick(self) -> bool:
        """Advance: chain the next buffer, finish a confirmation. False once the routine is over."""
        if self.program.error is not None:
            raise self.program.error
        if (lost := self.heard.lost()) and self._main is not None:
            self._main.started += lost  # nothing reached the device meanwhile
        if self.state == "confirming" and not (self._voice and self._voice.is_playing()):
            if self._then_quit:
                self.state = "done"
                return False
            self.state, self.position = "playing", self._resume_at
        if self.state != "playing":
            return True
        if self._main is not None:
            self._follow()
            self._mark()
            self.heard.check(_clock_text(_ms(self.position)))
            self._track()
            end = self._main_from + self._main_len
            if self.position >= end or not self._main.is_playing():
                if self.heard.waiting(_clock_text(_ms(end))):
                    return True
                self._main.stop(at_once=True)  # only the silent headroom is left
                self._main = None
            elif self.program.end > end:
                self._extend(end)
        if self._main is None:
            with self.program.lock:
                if self.program.complete and self.position >= self.program.end:
                    self.state = "done"
                    return False
                audio = self.program.audio_from(self.position)
            if audio is not None:
                self._start(audio)
        return True

    def _start(self, audio: Rest) -> None:
        """Play `audio` from `position` in a buffer with room for what is still being made.
        The buffer is a mapped file: its first FILL_S seconds are written now, the rest tick
        by tick (`_extend`), each piece dropped from memory once written."""
        expected = _grid(self.program.expected_ms) - self.position
        room = max(len(audio), expected + expected // 4) + HEADROOM_S * SAMPLE_RATE
        buffer, self._mapping = mapped(room, self.program.folder, audio.channels)
        self._main_from = self._released = self.position
        self._main_len = audio.copy_to(buffer, 0, FILL_S * SAMPLE_RATE, self._mapping)
        self.heard.restart(self.position)
        self._main = self.sink.play(buffer)
        self._mark()

    def _extend(self, end: int) -> None:
        """Sections made since the buffer started go into its silent tail, in place, ahead of
        the play position: the device's clock runs on, with nothing to align. Without room,
        or too late for that, switch buffers in the quiet that ends every section."""
        main = self._main
        assert main is not None
        audio = self.program.audio_from(end)
        if audio is None:
            return
        if end - self.position >= _grid(SAFE_MS) and self._main_len + len(audio) <= len(main.pcm):
            limit = FILL_S * SAMPLE_RATE
            self._main_len += audio.copy_to(main.pcm, self._main_len, limit, self._mapping)
            self._mark()
        elif self.position >= end - _grid(CHAIN_MS):
            rest = self.program.audio_from(self.position)
            if rest is not None:
                self._start(rest)
                main.stop(at_once=True)

    def _halt(self, *, at_once: bool = False) -> None:
        if self._main is not None:
            self._follow()
            self._main.stop(at_once=at_once)
            self._main = None
        self.heard.stop()

    def _follow(self) -> None:
        """Move `position` to where the playing buffer is now, and drop what has been played
        from memory now and then."""
        if self._main is not None:
            played = round((self.clock.now() - self._main.started) * SAMPLE_RATE)
            self.position = self._main_from + min(played, self._main_len)
            behind = self.position - SAMPLE_RATE  # simpleaudio may still be reading near it
            if self._mapping is not None and behind - self._released >= FILL_S * SAMPLE_RATE:
                release(
                    self._mapping,
                    self._released - self._main_from,
                    behind - self._main_from,
                    self._main.pcm.shape[1],
                )
                self._released = behind

    def _track(self) -> None:
        """Tell `on_section` when the listener enters another section."""
        if self.on_section is None:
            return
        i = self.program.index_at(self.position)
        if i is not None and i != self._section:
            self._section = i
            self.on_section(i)

    @property
    def quitting(self) -> bool:
        """The user pressed q."""
        return self._then_quit

    def continued(self) -> None:
        """The process was stopped and has just been continued (SIGCONT): call from its handler."""
        self.heard.continued()

    def _mark(self) -> None:
        if self._main is not None:
            self.heard.follow(self._main_from + self._main_len)

    def close(self) -> None:
        """Silence everything at once (Ctrl-C, an error): nothing may keep sounding."""
        self._halt(at_once=True)
        if self._voice is not None:
            self._voice.stop(at_once=True)
        self.state = "done"

    def _say(self, text: str) -> Playback:
        return self._voice_out(self.speak(text))

    def _voice_out(self, samples: Samples) -> Playback:
        """Play a confirmation; one still sounding is cut off: never two voices at once."""
        if self._voice is not None and self._voice.is_playing():
            self._voice.stop(at_once=True)
        self._voice = self.sink.play(samples)
        self._voice_ends = self.clock.now() + len(samples) / SAMPLE_RATE
        return self._voice

    def voice_sounding(self) -> bool:
        """A confirmation is playing."""
        return self._voice is not None and self._voice.is_playing()

    def _interject(self, text: str) -> None:
        """Say `text` while the routine plays on, where it would meet none of the routine's
        speech; otherwise pause the routine for it, and play on from the start of the cue it
        cut off (or from here, when the cue was still to come)."""
        samples = self.speak(text)
        if self.state != "playing":  # paused or confirming: the routine is silent
            self._voice_out(samples)
            return
        self._follow()
        ms = _ms(self.position)
        until = ms + len(samples) * 1000 // SAMPLE_RATE + QUIET_MS
        with self.program.lock:
            cues = [
                e
                for section in self.program.sections
                for e in section.events
                if e.kind == "speech" and e.start < until and e.end > ms
            ]
        if not cues:
            self._voice_out(samples)
            return
        first = min(cues, key=lambda e: e.start)
        self._halt()
        self._resume_at = _grid(first.start) if first.start <= ms else self.position
        self.state = "confirming"
        self._voice_out(samples)

    def _confirm_then_play(self, text: str, at: int) -> None:
        """Stop, say `text`, then play from `at`: the user hears every change of place."""
        self._halt()
        self._resume_at = at
        self.state = "confirming"
        self._say(text)  # the routine is stopped: nothing to talk over

    # --- where we are -------------------------------------------------------------------------

    def place(self) -> int:
        """Where the routine is, for the controls: while a confirmation pauses it, where it
        will play on from (a second "n" during "Next: ..." moves on from there)."""
        return self._resume_at if self.state == "confirming" else self.position

    def _here(self, at: int | None = None) -> tuple[int, Section] | None:
        """The section at sample `at` (default: `place()`, where the controls act from)."""
        with self.program.lock:
            i = self.program.index_at(self.place() if at is None else at)
            return None if i is None else (i, self.program.sections[i])

    def status(self) -> Status:
        return status_of(self)

    # --- controls ---------------------------------------------------------------------------

    def press(self, key: str) -> None:
        """A key, acted on now (controls.KEYS says which control it is)."""
        control = controls.KEYS.get(key)
        if control is not None:
            self.act(control, "key")

    def hurt(self, outcome: str) -> None:
        """Where the safety pause after "it hurts" stands: paused, continued or stopped."""
        self.safety_outcome = outcome
        for hook in self.on_safety:
            hook(outcome)

    def act(self, control: Control, source: str = "key") -> None:
        """Do what `control` asks, wherever the routine is; `source` is "key" or "voice"."""
        if self.state == "done":
            return
        for hook in self.on_control:
            hook(control, source)
        controls.act(self, control, source)

    def _open_gap(self, at_ms: int) -> None:
        """Open the silence in the playing buffer itself, ahead of the play position, so the
        device clock carries on uninterrupted; restart only when the headroom is used up."""
        main = self._main
        gap = _grid(at_ms + EXTRA_MS) - _grid(at_ms)
        if main is None:
            return
        cut = _grid(at_ms) - self._main_from
        if not 0 <= cut <= self._main_len or self._main_len + gap > len(main.pcm):
            self._halt()
            return  # tick() restarts from the new audio
        buf = main.pcm
        for high in range(self._main_len - cut, 0, -PIECE):  # from the end: the play
            low = max(0, high - PIECE)  # position meets only what has been moved
            buf[cut + gap + low : cut + gap + high] = buf[cut + low : cut + high]
            if self._mapping is not None:
                release(self._mapping, cut + low, cut + gap + high, buf.shape[1])
        buf[cut : cut + gap] = self.program.gap(_grid(at_ms), gap, buf.shape[1])
        self._main_len += gap
        self._mark()

    def run(
        self,
        read_key: Callable[[float], str | None] | None = None,
        show: Callable[[Status], None] | None = None,
        poll: float = 0.05,
    ) -> None:
        """Play until the routine ends or the user quits; always leaves silence behind.

        `read_key(timeout)` waits up to `timeout` seconds for a key; without it, no keys."""
        with on_continue(self.continued):
            self._loop(read_key, show, poll)

    def _loop(
        self,
        read_key: Callable[[float], str | None] | None,
        show: Callable[[Status], None] | None,
        poll: float,
    ) -> None:
        try:
            while self.tick():
                if self.quiet is not None:
                    publish(self, self.quiet)
                if show is not None:
                    show(self.status())
                if self.state == "playing" and self._main is None:
                    self.program.wait(poll)  # its audio is still being made
                    continue
                if read_key is None:
                    self.clock.sleep(poll)
                elif (key := read_key(poll)) is not None and key in controls.KEYS:
                    self.controls.put(controls.KEYS[key], "key")
                for control, source in self.controls.take():
                    self.act(control, source)
        finally:
            if self.quiet is not None:
                self.quiet.close()
            self.close()
