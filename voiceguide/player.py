"""The hands-free player: the rendered routine on the device's clock, with spoken controls.

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
from typing import TYPE_CHECKING, Literal

from . import phrases
from .clip import SAMPLE_RATE
from .compiler import seconds_words
from .heard import Heard, on_continue
from .program import Program
from .program import grid as _grid
from .program import sample_ms as _ms
from .sink import Clock, Playback, Sink
from .tape import PIECE, Rest, mapped, release
from .timeline import Section

if TYPE_CHECKING:
    from .render import Samples

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
BACK_WINDOW_MS = 5000
"""A "p" this soon after a technique starts goes back to the one before."""
QUIET_MS = 300
"""The least quiet kept between a confirmation and the routine's next words."""

KEYS = {" ": "pause", "n": "next", "p": "previous", "+": "more", "=": "more", "q": "quit"}


def _clock_text(ms: int) -> str:
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes}:{seconds:02d}"


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


State = Literal["playing", "paused", "confirming", "done"]


@dataclass(slots=True)
class Player:
    """Plays a Program on a Sink; `tick()` keeps it going, `press()` handles a control key."""

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
        return self._voice

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

    def _here(self) -> tuple[int, Section] | None:
        with self.program.lock:
            i = self.program.index_at(self.position)
            return None if i is None else (i, self.program.sections[i])

    def status(self) -> Status:
        here = self._here()
        ms = _ms(self.position)
        with self.program.lock:
            total = self.program.sections[-1].end if self.program.sections else 0
        if here is None:
            return Status("", "", None, ms, total, self.state == "paused")
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
        return Status(section.title, step, left, ms, total, self.state == "paused")

    # --- controls ---------------------------------------------------------------------------

    def press(self, key: str) -> None:
        action = KEYS.get(key)
        if action is None or self.state == "done":
            return
        getattr(self, f"_{action}")()

    def _pause(self) -> None:
        if self.state == "paused":
            self._resume()
            return
        if self.state == "confirming":
            self.position = self._resume_at
            if self._voice is not None:
                self._voice.stop(at_once=True)
        self._halt()
        here = self._here()
        if here is not None:  # come back to the start of a cue cut off mid-word
            ms = _ms(self.position)
            cue = next(
                (e for e in here[1].events if e.kind == "speech" and e.start <= ms < e.end), None
            )
            if cue is not None:
                self.position = _grid(cue.start)
        self.state = "paused"
        self._say("Paused.")

    def _resume(self) -> None:
        status = self.status()
        text = f"Resuming: {status.section}" if status.section else "Resuming"
        if status.step in ("hold", "rest") and status.left_s:
            text += f", {seconds_words(status.left_s * 1000)} left"
        self._confirm_then_play(text + ".", self.position)

    def _next(self) -> None:
        self._follow()
        here = self._here()
        if here is None:
            return
        i, _ = here
        with self.program.lock:
            last_part = i + 1 >= len(self.program.sections) and self.program.complete
        if last_part:
            self._interject("This is the last part.")
            return
        with self.program.lock:
            upcoming = self.program.sections[i + 1] if i + 1 < len(self.program.sections) else None
            last = self.program.complete and i + 2 == len(self.program.sections)
        if upcoming is None:  # not synthesized yet: wait for it
            self._confirm_then_play("Next.", self.program.end)
            return
        text = "Skipping to the end." if last else f"Next: {upcoming.title}."
        self._confirm_then_play(text, _grid(upcoming.start))

    def _previous(self) -> None:
        self._follow()
        here = self._here()
        if here is None:
            return
        i, section = here
        if _ms(self.position) - section.start < BACK_WINDOW_MS and i > 1:
            with self.program.lock:
                section = self.program.sections[i - 1]
            text = f"Back to: {section.title}."
        else:
            text = f"Again: {section.title}."
        self._confirm_then_play(text, _grid(section.start))

    def _more(self) -> None:
        self._follow()
        here = self._here()
        ms = _ms(self.position)
        hold = here and next(
            (e for e in here[1].events if e.kind == "hold" and e.start <= ms < e.end), None
        )
        if not here or not hold or self.state != "playing":
            self._interject("Not in a hold.")
            return
        index, section = here
        at = ms + SAFE_MS
        sounding = [e for e in section.events if e.kind in ("speech", "chime")]
        while busy := [e for e in sounding if e.start < at < e.end]:
            at = max(e.end for e in busy)
        if at >= hold.end:
            self._interject("Too late to add time to this hold.")
            return
        self.program.insert_silence(index, at, hold, EXTRA_MS)
        self._open_gap(at)
        self._interject("Ten more seconds.")

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
                if show is not None:
                    show(self.status())
                if self.state == "playing" and self._main is None:
                    self.program.wait(poll)  # its audio is still being made
                    continue
                if read_key is None:
                    self.clock.sleep(poll)
                elif (key := read_key(poll)) is not None:
                    self.press(key)
        finally:
            self.close()

    def _quit(self) -> None:
        """Stop, and say how to come out of the posture of the part being played: getting up
        off the floor is not getting up from a chair."""
        self._halt()
        self._then_quit = True
        here = self._here()
        posture = here[1].posture if here is not None else None
        self._confirm_then_play(phrases.stopping(posture), self.position)
