"""The controls keys and voice share: each acts, in order, wherever the player is; a spoken
stop asks for a second; "it hurts" is a safety pause; the player says when it is silent."""

import math
from collections.abc import Iterator

import pytest

from voiceguide import api, phrases
from voiceguide.clip import SAMPLE_RATE
from voiceguide.player.controls import STOP_AGAIN, STOP_AGAIN_S
from voiceguide.sink import FakeClock, FakeSink
from voiceguide.speech import FakeSynthesizer

from .test_player import Rig


@pytest.fixture
def rig() -> Iterator[Rig]:
    """upper-back on a fake device: five techniques, each long enough to move about in."""
    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FakeSynthesizer()
    with api.playing("upper-back", sink=sink, clock=clock, engine=engine, record=False) as player:
        r = Rig(player, clock, sink, engine)
        r.wait_until_made()
        yield r


def titles(rig: Rig) -> list[str]:
    return [s.title for s in rig.player.program.sections]


def test_every_next_acts_even_while_the_last_is_confirmed(rig: Rig) -> None:
    """Four n's, each while "Next: ..." is still being said: four techniques on, not one."""
    names = titles(rig)
    rig.until(100)  # in the first technique
    assert rig.player.status().section == names[1]
    for _ in range(4):
        rig.player.press("n")
        rig.until(rig.clock.now() + 0.5)
        assert rig.player.state == "confirming"
    assert rig.said() == [f"Next: {name}." for name in names[2:6]]
    rig.until(rig.clock.now() + 5)
    assert rig.player.status().section == names[5]


def test_keys_and_voice_act_in_the_order_they_came(rig: Rig) -> None:
    names = titles(rig)
    rig.until(100)
    rig.player.controls.put("next", "voice")
    rig.player.controls.put("back", "voice")  # just after a start: back to the one before
    rig.player.controls.put("next", "key")
    heard: list[tuple[str, str]] = []
    rig.player.on_control.append(lambda control, source: heard.append((control, source)))
    for control, source in rig.player.controls.take():
        rig.player.act(control, source)
    assert heard == [("next", "voice"), ("back", "voice"), ("next", "key")]
    assert rig.said() == [f"Next: {names[2]}.", f"Back to: {names[1]}.", f"Next: {names[2]}."]


def test_a_spoken_stop_asks_for_a_second(rig: Rig) -> None:
    rig.until(100)
    rig.player.act("stop", "voice")
    assert rig.said() == [STOP_AGAIN]
    rig.until(rig.clock.now() + STOP_AGAIN_S + 1)  # too late: the routine plays on
    assert rig.player.state == "playing"
    rig.player.act("stop", "voice")
    assert rig.said() == [STOP_AGAIN, STOP_AGAIN]
    rig.until(rig.clock.now() + 2)
    rig.player.act("stop", "voice")
    assert rig.said()[-1].startswith("Stopping here.")
    assert not rig.until(rig.clock.now() + 30)
    assert rig.player.quitting


def test_another_control_between_two_stops_disarms_the_first(rig: Rig) -> None:
    rig.until(100)
    rig.player.act("stop", "voice")
    rig.player.act("more", "voice")
    rig.player.act("stop", "voice")
    assert rig.said()[-1] == STOP_AGAIN
    assert rig.player.state != "done" and not rig.player.quitting


def test_it_hurts_stops_explains_and_waits_for_continue(rig: Rig) -> None:
    rig.until(100)
    at = rig.player.position
    rig.player.act("hurts", "voice")
    assert rig.said() == [phrases.PAIN]
    assert rig.player.state == "safety"
    assert all(not p.is_playing() for p in rig.main())
    for control in ("next", "more", "pause", "back"):  # only continue or stop now
        rig.player.act(control, "voice")  # type: ignore[arg-type]
    rig.until(rig.clock.now() + 60)
    assert rig.player.state == "safety" and rig.said() == [phrases.PAIN]
    rig.player.act("continue", "voice")
    assert rig.player.safety_outcome == "continued"
    assert rig.said()[-1].startswith("Resuming: ")
    rig.until(rig.clock.now() + 5)
    assert rig.player.state == "playing" and rig.player.position > at - 10 * SAMPLE_RATE


def test_it_hurts_then_one_stop_ends_at_once(rig: Rig) -> None:
    rig.until(100)
    rig.player.act("hurts", "voice")
    rig.player.act("stop", "voice")
    assert rig.player.safety_outcome == "stopped"
    assert rig.said()[-1].startswith("Stopping here.")
    assert not rig.until(rig.clock.now() + 30)
    assert rig.player.quitting


class Windows:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []
        self.closed = False

    def window(self, start: float, until: float) -> None:
        self.seen.append((start, until))

    def close(self) -> None:
        self.closed = True


def test_the_player_says_when_it_will_be_silent(rig: Rig) -> None:
    """In a hold, the window runs to the next cue; in a cue, it starts where the cue ends;
    paused, it never ends; the bed is no sound here."""
    from voiceguide.player.quiet import publish

    section = rig.player.program.sections[1]
    hold = next(e for e in section.events if e.kind == "hold")
    sounds = [e for e in section.events if e.kind in ("speech", "chime")]
    quiet_ms = next(
        t for t in range(hold.start, hold.end, 100) if not any(e.start <= t < e.end for e in sounds)
    )
    rig.until(quiet_ms / 1000 + 0.01)
    windows = Windows()
    publish(rig.player, windows)
    start, until = windows.seen[-1]
    ms = rig.clock.now() * 1000
    following = min(e.start for e in sounds if e.start > ms)
    assert start <= rig.clock.now()
    assert until == pytest.approx(following / 1000, abs=0.06)
    cue = next(e for e in sounds if e.kind == "speech" and e.start > ms + 1000)
    rig.until((cue.start + cue.duration / 2) / 1000)
    publish(rig.player, windows)
    start, _ = windows.seen[-1]
    assert start >= cue.end / 1000 - 0.06
    rig.player.press(" ")
    rig.until(rig.clock.now() + 3)  # "Paused." said
    publish(rig.player, windows)
    assert windows.seen[-1][1] == math.inf


def test_next_during_the_first_cue_of_a_cold_start_skips_the_whole_opening() -> None:
    """While only the opening's first cue is made, "next" waits the moment it takes for the
    first technique, and goes there: not to the end of what happened to be ready."""
    import threading

    from .test_player import SHORT, TICK, FirstThenWait, tick_until_sound

    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FirstThenWait()
    with api.playing(SHORT, sink=sink, clock=clock, engine=engine, record=False) as player:
        tick_until_sound(player, sink)
        assert len(player.program.sections) == 1  # the first cue alone
        threading.Timer(0.2, engine.go.set).start()  # the rest is made while "next" waits
        player.act("next", "voice")
        technique = player.program.sections[1]
        assert list(engine.calls[-1]) == [f"Next: {technique.title}."]
        while player.state == "confirming":
            player.tick()
            clock.advance(TICK)
        assert player.status().section == technique.title
