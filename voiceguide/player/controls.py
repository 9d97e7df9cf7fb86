"""The one set of controls that keys and voice both drive, and what each does.

Keys and voice commands meet in one queue (`Controls`), which the player's main loop empties
every tick, so each control acts, in the order it came, whatever the player is doing: a
second "next" said while "Next: Foam roller." is still being spoken moves on from the foam
roller, not from where the routine was. Every change is confirmed aloud (playing.py says
how a confirmation never talks over the routine).
"""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Literal

from .. import phrases
from ..compiler import seconds_words
from ..program import grid, sample_ms

if TYPE_CHECKING:
    from .playing import Player

Control = Literal["toggle", "pause", "continue", "next", "back", "more", "quit", "stop", "hurts"]
"""toggle: space (pause, or carry on); quit: q, at once; stop: said, and said again."""

KEYS: dict[str, Control] = {
    " ": "toggle",
    "n": "next",
    "p": "back",
    "+": "more",
    "=": "more",
    "q": "quit",
}
BACK_WINDOW_MS = 5000
"""A "p" this soon after a technique starts goes back to the one before."""
STOP_AGAIN_S = 6.0
"""A spoken "stop" ends the session only when a second one comes within this many seconds:
a stray word in the room must not end a routine."""
STOP_AGAIN = "Say stop again to end."
WAIT_NEXT_S = 10.0
"""How long "next" waits for the next part to be made, on a cold start, before it gives up
and plays on from the end of what is ready."""


class Controls:
    """Controls waiting for the main loop, from any thread: keys, and the listener's."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Control, str]] = queue.SimpleQueue()

    def put(self, control: Control, source: str) -> None:
        self._queue.put((control, source))

    def take(self) -> list[tuple[Control, str]]:
        """Everything waiting, oldest first."""
        taken = []
        while True:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                return taken


def act(player: Player, control: Control, source: str) -> None:
    """Do what `control` asks of `player`."""
    if player.state == "safety":
        _after_pain(player, control)
        return
    if control == "stop":
        _stop(player)
        return
    player.stop_armed_until = -1.0  # any other control: a "stop" must be said twice anew
    if control == "toggle":
        (_resume if player.state == "paused" else _pause)(player)
    elif control == "pause":
        _pause(player)
    elif control == "continue":
        if player.state == "paused":
            _resume(player)
    elif control == "next":
        _next(player)
    elif control == "back":
        _back(player)
    elif control == "more":
        _more(player)
    elif control == "quit":
        _quit(player)
    elif control == "hurts":
        _hurts(player)


def _halt_in_place(player: Player) -> None:
    """Stop the routine where it is, at the start of a cue it cut off mid-word."""
    if player.state == "confirming":
        player.position = player._resume_at
        if player._voice is not None:
            player._voice.stop(at_once=True)
    player._halt()
    here = player._here()
    if here is not None:  # come back to the start of a cue cut off mid-word
        ms = sample_ms(player.position)
        cue = next(
            (e for e in here[1].events if e.kind == "speech" and e.start <= ms < e.end), None
        )
        if cue is not None:
            player.position = grid(cue.start)


def _pause(player: Player) -> None:
    _halt_in_place(player)
    player.state = "paused"
    player._say("Paused.")


def _resume(player: Player) -> None:
    status = player.status()
    text = f"Resuming: {status.section}" if status.section else "Resuming"
    if status.step in ("hold", "rest") and status.left_s:
        text += f", {seconds_words(status.left_s * 1000)} left"
    player._confirm_then_play(text + ".", player.position)


def _next(player: Player) -> None:
    player._follow()
    here = player._here()
    if here is None:
        return
    i, _ = here
    program = player.program
    with program.lock:
        last_part = i + 1 >= len(program.sections) and program.complete
    if last_part:
        player._interject("This is the last part.")
        return
    with program.lock:  # the next part is being made (a cold start): it comes in moments
        deadline = player.clock.now() + WAIT_NEXT_S
        while len(program.sections) <= i + 1 and not program.complete:
            if player.clock.now() >= deadline:
                break
            program.lock.wait(0.05)
        upcoming = program.sections[i + 1] if i + 1 < len(program.sections) else None
        last = program.complete and i + 2 == len(program.sections)
    if upcoming is None:  # still not made: play on from the end of what is
        player._confirm_then_play("Next.", program.end)
        return
    text = "Skipping to the end." if last else f"Next: {upcoming.title}."
    player._confirm_then_play(text, grid(upcoming.start))


def _back(player: Player) -> None:
    player._follow()
    here = player._here()
    if here is None:
        return
    i, section = here
    if sample_ms(player.place()) - section.start < BACK_WINDOW_MS and i > 1:
        with player.program.lock:
            section = player.program.sections[i - 1]
        text = f"Back to: {section.title}."
    else:
        text = f"Again: {section.title}."
    player._confirm_then_play(text, grid(section.start))


def _more(player: Player) -> None:
    from .playing import EXTRA_MS, SAFE_MS

    player._follow()
    here = player._here()
    ms = sample_ms(player.place())
    hold = here and next(
        (e for e in here[1].events if e.kind == "hold" and e.start <= ms < e.end), None
    )
    if not here or not hold or player.state not in ("playing", "confirming"):
        player._interject("Not in a hold.")
        return
    index, section = here
    at = ms + SAFE_MS if player.state == "playing" else ms
    sounding = [e for e in section.events if e.kind in ("speech", "chime")]
    while busy := [e for e in sounding if e.start < at < e.end]:
        at = max(e.end for e in busy)
    if at >= hold.end:
        player._interject("Too late to add time to this hold.")
        return
    player.program.insert_silence(index, at, hold, EXTRA_MS)
    player._open_gap(at)
    player._interject("Ten more seconds.")


def _quit(player: Player) -> None:
    """Stop, and say how to come out of the posture of the part being played: getting up
    off the floor is not getting up from a chair."""
    player._halt()
    player._then_quit = True
    here = player._here()
    posture = here[1].posture if here is not None else None
    player._confirm_then_play(phrases.stopping(posture), player.position)


def _stop(player: Player) -> None:
    """A spoken stop: the first asks for a second, so a word in the room ends nothing."""
    now = player.clock.now()
    if now <= player.stop_armed_until:
        _quit(player)
        return
    player.stop_armed_until = now + STOP_AGAIN_S
    player._interject(STOP_AGAIN)


def _hurts(player: Player) -> None:
    """A safety pause: the routine stops where it is, the guide says what pain of that kind
    means, and waits for "continue" or "stop"."""
    _halt_in_place(player)
    player.state = "safety"
    player.hurt("paused")
    player._say(phrases.PAIN)


def _after_pain(player: Player, control: Control) -> None:
    """In a safety pause only carrying on or stopping is heard: once, no second stop asked."""
    if control in ("continue", "toggle"):
        player.hurt("continued")
        player.state = "paused"
        _resume(player)
    elif control in ("stop", "quit"):
        player.hurt("stopped")
        player.state = "paused"
        _quit(player)
    elif control == "hurts":
        player._say(phrases.PAIN)
