"""The player driven by a fake clock and sink: exact audio, controls, and their confirmations."""

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from voiceguide import api
from voiceguide.clip import SAMPLE_RATE
from voiceguide.compiler import LEAD_QUIET_MS
from voiceguide.errors import AudioDeviceError
from voiceguide.heard import PROBE_S
from voiceguide.player import EXTRA_MS, Player
from voiceguide.render import render
from voiceguide.sink import FakeClock, FakePlayback, FakeSink
from voiceguide.speech import FakeSynthesizer
from voiceguide.timeline import Timeline, ms_to_samples

from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")
TICK = 0.05


class Rig:
    def __init__(self, player: Player, clock: FakeClock, sink: FakeSink, engine: FakeSynthesizer):
        self.player, self.clock, self.sink, self.engine = player, clock, sink, engine

    def wait_until_made(self) -> None:
        deadline = time.monotonic() + 10
        while not self.player.program.complete:
            assert time.monotonic() < deadline
            time.sleep(0.01)

    def until(self, seconds: float) -> bool:
        """Tick until the fake clock reads `seconds`; False if the routine ended first."""
        while self.clock.now() < seconds:
            if not self.player.tick():
                return False
            self.clock.advance(TICK)
        return self.player.tick()

    def to_end(self) -> None:
        for _ in range(1_000_000):
            if not self.player.tick():
                return
            self.clock.advance(TICK)
        raise AssertionError("never ended")

    def said(self) -> list[str]:
        """Confirmations, in order: batches of one the player asked the engine for."""
        return [batch[0] for batch in self.engine.calls[1:]]

    def main(self) -> list[FakePlayback]:
        return [p for p in self.sink.playbacks if len(p.pcm) > 60 * SAMPLE_RATE]

    def timeline(self) -> Timeline:
        return Timeline("t", tuple(self.player.program.sections))


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FakeSynthesizer()
    with api.playing(SHORT, sink=sink, clock=clock, engine=engine) as player:
        r = Rig(player, clock, sink, engine)
        r.wait_until_made()
        yield r


def test_plays_exactly_what_export_renders_on_one_device_clock(rig: Rig) -> None:
    rig.to_end()
    prepared = api.prepare(SHORT, engine=FakeSynthesizer())
    expected = render(prepared.timeline, prepared.clips)
    (main,) = rig.main()
    assert main.started == 0
    assert main.heard()[: len(expected)].tobytes() == expected.tobytes()
    assert not np.any(main.heard()[len(expected) :])
    assert rig.player.state == "done" and rig.said() == []


def test_pause_rewinds_to_the_cue_it_cut_and_resume_says_where(rig: Rig) -> None:
    timeline = rig.timeline()
    cue = next(e for e in timeline.events if e.kind == "speech" and e.technique is not None)
    rig.until((cue.start + cue.duration / 2) / 1000)
    rig.player.press(" ")
    assert rig.player.state == "paused"
    assert rig.main()[0].stopped is not None
    assert rig.said() == ["Paused."]
    rig.until(rig.clock.now() + 30)  # a long pause: nothing plays
    assert len(rig.main()) == 1
    rig.player.press(" ")
    assert rig.said() == ["Paused.", "Resuming: Shoulder roll."]
    rig.until(rig.clock.now() + 5)
    resumed = rig.main()[1]
    prepared = api.prepare(SHORT, engine=FakeSynthesizer())
    expected = render(prepared.timeline, prepared.clips)[ms_to_samples(cue.start, SAMPLE_RATE) :]
    assert resumed.heard().tobytes() == expected[: len(resumed.heard())].tobytes()
    assert resumed.started >= rig.sink.playbacks[-2].started  # after the confirmation


def test_resume_inside_a_hold_says_the_time_left(rig: Rig) -> None:
    hold = next(e for e in rig.timeline().events if e.kind == "hold")
    rig.until((hold.start + 4000) / 1000)
    rig.player.press(" ")
    rig.player.press(" ")
    assert rig.said()[-1] == "Resuming: Shoulder roll, five seconds left."


def test_next_skips_to_the_next_technique_and_says_so(rig: Rig) -> None:
    rig.until(3)
    rig.player.press("n")
    assert rig.said() == ["Next: Shoulder roll."]
    rig.until(rig.clock.now() + 5)
    second = rig.main()[1]
    assert rig.player.position >= ms_to_samples(rig.timeline().sections[1].start, SAMPLE_RATE)
    section = rig.player.program.pcm[1]
    assert second.heard().tobytes() == section[: len(second.heard())].tobytes()
    rig.player.press("n")
    assert rig.said()[-1] == "Skipping to the end."


def test_previous_restarts_the_technique_and_twice_goes_back(rig: Rig) -> None:
    technique = rig.timeline().sections[1]
    rig.until(technique.start / 1000 + 20)
    rig.player.press("p")
    assert rig.said() == ["Again: Shoulder roll."]
    rig.until(rig.clock.now() + 3)
    assert rig.main()[-1].started > 0
    start = ms_to_samples(technique.start, SAMPLE_RATE)
    assert rig.player.position - start < 4 * SAMPLE_RATE
    rig.player.press("p")
    assert rig.said()[-1] == "Again: Shoulder roll.", "the first technique has none before it"


def test_plus_adds_ten_seconds_to_the_hold_without_restarting(rig: Rig) -> None:
    before = rig.timeline()
    hold = next(e for e in before.events if e.kind == "hold")
    end_chime = next(e for e in before.events if e.name == "hold-end" and e.start == hold.end)
    cue = next(e for e in before.events if e.kind == "speech" and e.start >= hold.start)
    rig.until((cue.end + 500) / 1000)  # no words near: the routine plays on under it
    rig.player.press("+")
    assert rig.said() == ["Ten more seconds."]
    after = rig.timeline()
    longer = next(e for e in after.events if e.kind == "hold" and e.start == hold.start)
    assert longer.duration == hold.duration + EXTRA_MS
    assert any(e.name == "hold-end" and e.start == end_chime.start + EXTRA_MS for e in after.events)
    assert after.duration == before.duration + EXTRA_MS
    rig.to_end()
    (main,) = rig.main()  # the same buffer played on: no restart, no drift
    prepared = api.prepare(SHORT, engine=FakeSynthesizer())
    clips = prepared.clips
    expected = render(after, clips)
    assert main.heard()[: len(expected)].tobytes() == expected.tobytes()


def test_plus_outside_a_hold_says_so(rig: Rig) -> None:
    rig.until(1)
    rig.player.press("+")
    assert rig.said() == ["Not in a hold."]
    fake_lengths = api.prepare(SHORT, engine=FakeSynthesizer()).timeline
    assert rig.timeline().duration == fake_lengths.duration  # nothing added


def test_quit_says_goodbye_then_stops(rig: Rig) -> None:
    rig.until(10)
    rig.player.press("q")
    assert rig.said() == [  # short.toml names no posture
        "Stopping here. Rest for a few breaths. When you are ready, come out of the position "
        "slowly."
    ]
    assert not rig.until(rig.clock.now() + 30)
    assert rig.player.state == "done"
    assert all(not p.is_playing() for p in rig.sink.playbacks)


POSTURES = """\
title = "Postures"
transition = 1

[[technique]]
title = "Seated"
posture = "chair"
steps = [{ hold = 4 }]

[[technique]]
title = "Lying"
posture = "floor"
transition = 1
steps = [{ hold = 4 }]

[[technique]]
title = "Still lying"
steps = [{ hold = 4 }]

[[technique]]
title = "At the wall"
posture = "wall"
transition = 1
steps = [{ hold = 4 }]

[[technique]]
title = "Standing"
posture = "standing"
transition = 1
steps = [{ hold = 4 }]
"""
FLOOR = (
    "Stopping here. Lie still for a few breaths. When you are ready, roll onto your side, push "
    "yourself up to sitting, and only then stand up, slowly."
)
CHAIR = (
    "Stopping here. Stay seated, and take one slow, easy breath. Then open your eyes, and go "
    "back to your day."
)
UPRIGHT = (
    "Stopping here. Stand easy for a few breaths, arms loose. Then open your eyes, and walk on "
    "slowly."
)


@pytest.mark.parametrize(
    ("start_at", "section", "line"),
    [
        (None, "Introduction", CHAIR),  # it settles into the first technique's posture
        (None, "Seated", CHAIR),
        (None, "Lying", FLOOR),
        (None, "Still lying", FLOOR),  # names none: keeps the floor
        (None, "At the wall", UPRIGHT),
        (None, "Standing", UPRIGHT),
        (None, "Closing", UPRIGHT),
        (3, "Resuming", FLOOR),  # resumed at "Still lying": on the floor, though it names none
    ],
    ids=["opening", "chair", "floor", "kept", "wall", "standing", "closing", "resumed"],
)
def test_quit_says_how_to_get_up_from_where_the_body_is(
    tmp_path, start_at: int | None, section: str, line: str
) -> None:
    routine = tmp_path / "postures.toml"
    routine.write_text(POSTURES)
    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FakeSynthesizer()
    with api.playing(
        str(routine), sink=sink, clock=clock, engine=engine, start_at=start_at
    ) as player:
        rig = Rig(player, clock, sink, engine)
        rig.wait_until_made()
        start = next(s.start for s in player.program.sections if s.title == section)
        assert rig.until(start / 1000 + 1)
        assert player.status().section == section
        player.press("q")
        assert rig.said() == [line]
        assert not rig.until(clock.now() + 30)
        assert player.state == "done" and player.quitting


class Slow(FakeSynthesizer):
    """Synthesis that takes real time, so the player starts before the routine is all made."""

    def synthesize(self, texts, settings):  # type: ignore[no-untyped-def]
        for clip in super().synthesize(texts, settings):
            time.sleep(0.002)
            yield clip


class FirstThenWait(FakeSynthesizer):
    """The first clip at once, the rest only once `go` is set: the rest of the opening is
    still being made when the first cue should sound."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def synthesize(self, texts, settings):  # type: ignore[no-untyped-def]
        for i, clip in enumerate(super().synthesize(texts, settings)):
            if i == 1:
                assert self.go.wait(10)
            yield clip


def tick_until_sound(player: Player, sink: FakeSink, deadline: float | None = None) -> None:
    """Tick the player until its first sound reaches the sink, by `deadline` (monotonic
    time; default 10 s from now, in real time: the clips are made on the producer's thread)."""
    deadline = time.monotonic() + 10 if deadline is None else deadline
    while not sink.playbacks:
        player.tick()
        assert time.monotonic() < deadline


@pytest.mark.parametrize(
    ("routine", "start_at"), [(SHORT, None), ("desk-break", 2)], ids=["opening", "resumed"]
)
def test_the_first_cue_sounds_before_the_rest_of_the_opening_is_made(
    routine: str, start_at: int | None
) -> None:
    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FirstThenWait()
    with api.playing(routine, sink=sink, clock=clock, engine=engine, start_at=start_at) as player:
        deadline = time.monotonic() + 10
        tick_until_sound(player, sink, deadline)
        (lead,) = player.program.sections
        assert [e.kind for e in lead.events] == ["speech"]
        assert np.any(sink.playbacks[0].pcm)  # the first cue, playing
        engine.go.set()
        while not player.program.complete:  # made while the first cue is still sounding
            assert time.monotonic() < deadline
            time.sleep(0.01)
        while player.tick():
            clock.advance(TICK)
        opening = player.program.sections[0]
        assert opening.title == lead.title and opening.events[0] == lead.events[0]
        assert len(opening.events) > 1  # the lead grew into the whole opening: still section 0
        prepared = api.prepare(routine, engine=FakeSynthesizer(), start_at=start_at)
        assert tuple(player.program.sections) == prepared.timeline.sections
        expected = render(prepared.timeline, prepared.clips)
        heard = sink.playbacks[0].heard()
        assert len(sink.playbacks) == 1  # one buffer, one device clock
        assert heard[: len(expected)].tobytes() == expected.tobytes()


@pytest.mark.parametrize("room", [True, False], ids=["in place", "switching buffers"])
def test_a_cold_start_plays_the_opening_before_the_rest_is_made(room: bool) -> None:
    clock = FakeClock()
    sink = FakeSink(clock)
    with api.playing(SHORT, sink=sink, clock=clock, engine=Slow()) as player:
        if not room:  # as if the routine were far longer than its estimate
            player.program.expected_ms = 0
        deadline = time.monotonic() + 10
        tick_until_sound(player, sink, deadline)
        assert not player.program.complete
        assert len(player.program.sections) < 3
        # the clock runs 50 times faster than synthesis here: let the opening grow from its
        # first cue, and the next section come, before it is played out (later would be a gap)
        while len(player.program.sections) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        while player.tick():
            clock.advance(TICK)
            time.sleep(0.001)
        expected = np.concatenate(player.program.pcm)
        first = sink.playbacks[0]
        if room:  # what was made later went into the playing buffer: one device clock
            assert len(sink.playbacks) == 1
            assert first.heard()[: len(expected)].tobytes() == expected.tobytes()
            return
        # the opening's first cue was played on its own, then the rest: one switch at most
        # for that (without room it can come during the cue), the others in a section's quiet
        assert 2 <= len(sink.playbacks) <= 3
        at = [round((p.started - first.started) * SAMPLE_RATE) for p in sink.playbacks]
        ends = [ms_to_samples(section.end, SAMPLE_RATE) for section in player.program.sections]
        cue = player.program.sections[0].events[0]
        lead = ms_to_samples(cue.end + LEAD_QUIET_MS, SAMPLE_RATE)
        for switch in (switch for switch in at[1:] if switch > lead):
            assert any(end - 1.5 * SAMPLE_RATE < switch < end for end in ends), "in the quiet"
        pieces = [p.heard()[: b - a] for p, a, b in zip(sink.playbacks, at, at[1:], strict=False)]
        heard = np.concatenate([*pieces, sink.playbacks[-1].heard()])
        assert heard[: len(expected)].tobytes() == expected.tobytes()


def test_no_device_fails_before_any_synthesis() -> None:
    engine = FakeSynthesizer()
    with (
        pytest.raises(AudioDeviceError, match="no sound device"),
        api.playing(SHORT, sink=FakeSink(FakeClock(), available=False), engine=engine),
    ):
        pass
    assert engine.calls == []


def test_status_names_technique_step_and_time_left(rig: Rig) -> None:
    hold = next(e for e in rig.timeline().events if e.kind == "hold")
    rig.until((hold.start + 2500) / 1000)
    status = rig.player.status()
    assert (status.section, status.step, status.left_s) == ("Shoulder roll", "hold", 7)
    assert status.total_ms == rig.timeline().duration and not status.paused


def test_a_device_that_never_plays_is_an_error_not_the_end() -> None:
    """Found stuck once the one-second probe is `stuck_s` late: not after the routine."""
    clock = FakeClock()
    sink = FakeSink(clock, stuck=True)
    with api.playing(SHORT, sink=sink, clock=clock, engine=FakeSynthesizer()) as player:
        Rig(player, clock, sink, FakeSynthesizer()).wait_until_made()
        player.heard.stuck_s = 5
        end = player.program.end / SAMPLE_RATE
        with pytest.raises(AudioDeviceError, match="stopped playing: 5 s behind at 0:06"):
            while player.tick():
                clock.advance(TICK)
        assert PROBE_S + 5 < clock.now() <= PROBE_S + 5 + 2 * TICK < end, "found at once"
    probe, first = sink.markers  # the probe beside the first marker
    assert len(probe.pcm) == PROBE_S * SAMPLE_RATE < len(first.pcm)
    assert all(not p.is_playing() for p in sink.playbacks + sink.markers)


def test_a_device_that_stops_midway_is_an_error_before_the_end(rig: Rig) -> None:
    rig.until(20)
    rig.sink.stuck = True
    for marker in rig.sink.markers:
        marker.stuck = True  # the device holds back what it has
    rig.player.heard.stuck_s = 5
    with pytest.raises(AudioDeviceError, match="stopped playing"):
        rig.to_end()
    assert rig.clock.now() < rig.player.program.end / SAMPLE_RATE


def test_a_stop_and_continue_moves_the_play_position_back_by_the_stop(rig: Rig) -> None:
    rig.until(5)
    before = rig.player.position
    rig.clock.advance(10)  # stopped: no tick, the device got nothing
    rig.player.continued()
    rig.player.tick()
    assert rig.player.position - before <= ms_to_samples(100, SAMPLE_RATE)
    _probe, marker = rig.sink.markers  # the probe beside the first marker
    assert rig.player.tick()
    rig.clock.advance(marker.started + len(marker.pcm) / SAMPLE_RATE - rig.clock.now())
    assert rig.player.tick(), "the routine plays on past its time by the length of the stop"
    assert rig.until(rig.clock.now() + 9.5)
    rig.to_end()
    assert rig.clock.now() >= marker.started + len(marker.pcm) / SAMPLE_RATE + 10


@pytest.fixture
def quiet_rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """A rig whose chimes are silent: whatever sounds in the routine's audio is speech."""
    from voiceguide import sounds
    from voiceguide.clip import Clip

    real = sounds.load
    monkeypatch.setattr(sounds, "load", lambda name: Clip(bytes(len(real(name).pcm))))
    clock = FakeClock()
    sink = FakeSink(clock)
    engine = FakeSynthesizer()
    with api.playing(SHORT, sink=sink, clock=clock, engine=engine, record=False) as player:
        r = Rig(player, clock, sink, engine)
        r.wait_until_made()
        yield r


def voices_overlap(rig: Rig) -> list[tuple[float, float]]:
    """Where a confirmation sounded while the routine's own audio (speech only) did too."""
    overlaps = []
    mains = rig.main()
    for voice in (p for p in rig.sink.playbacks if all(p is not m for m in mains)):
        start = voice.started
        end = start + len(voice.heard()) / SAMPLE_RATE
        for main in mains:
            heard = main.heard()
            low = max(0, round((start - main.started) * SAMPLE_RATE))
            high = min(len(heard), round((end - main.started) * SAMPLE_RATE))
            if low < high and np.any(heard[low:high]):
                overlaps.append((start, end))
    return overlaps


def _cue(rig: Rig, which: str):  # type: ignore[no-untyped-def]
    events = rig.timeline().events
    hold = next(e for e in events if e.kind == "hold")
    speech = [e for e in events if e.kind == "speech"]
    if which == "hold cue":
        return next(e for e in speech if e.start >= hold.start)
    if which == "after the hold":
        return next(e for e in speech if e.start >= hold.end)
    if which == "closing":
        closing = rig.timeline().sections[-1]
        return next(e for e in speech if e.start >= closing.start)
    technique = rig.timeline().sections[1]
    return next(e for e in speech if e.start >= technique.start)  # the title


@pytest.mark.parametrize(
    ("key", "where", "said"),
    [
        ("+", "title", "Not in a hold."),
        ("+", "hold cue", "Ten more seconds."),
        ("+", "after the hold", "Too late to add time to this hold."),
        ("n", "closing", "This is the last part."),
    ],
)
def test_no_confirmation_talks_over_the_routine(
    quiet_rig: Rig, key: str, where: str, said: str
) -> None:
    rig = quiet_rig
    cue = _cue(rig, where)
    hold = next(e for e in rig.timeline().events if e.kind == "hold")
    at = hold.end - 100 if where == "after the hold" else cue.start + cue.duration // 2
    rig.until(at / 1000)
    rig.player.press(key)
    assert rig.said() == [said]
    rig.to_end()
    assert voices_overlap(rig) == []
    first, again = rig.main()  # stopped for the confirmation, then played on
    assert again.started >= first.stopped
    cue = _cue(rig, where)  # "+" moved what follows the press
    prepared = api.prepare(SHORT, engine=FakeSynthesizer())
    expected = render(rig.timeline(), prepared.clips)
    start = ms_to_samples(cue.start, SAMPLE_RATE) if cue.start <= at else None
    if start is not None:  # the cut-off cue, again from its start
        assert again.heard()[:SAMPLE_RATE].tobytes() == expected[start:][:SAMPLE_RATE].tobytes()


def test_a_confirmation_in_quiet_lets_the_routine_play_on(quiet_rig: Rig) -> None:
    rig = quiet_rig
    hold = next(e for e in rig.timeline().events if e.kind == "hold")
    cue = next(e for e in rig.timeline().events if e.kind == "speech" and e.start >= hold.start)
    rig.until((cue.end + 500) / 1000)
    rig.player.press("+")
    rig.to_end()
    assert rig.said() == ["Ten more seconds."] and len(rig.main()) == 1
    assert voices_overlap(rig) == []
