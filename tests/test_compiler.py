import itertools
from collections.abc import Callable

import pytest

from voiceguide import phrases, sounds
from voiceguide.catalog import builtin_routines, load_routine, read_routine
from voiceguide.compiler import (
    MAX_ROUTINE_MS,
    compile_routine,
    compile_sections,
    cue_texts,
    time_left_cues,
    words,
)
from voiceguide.errors import RoutineError
from voiceguide.timeline import Event, Timeline

from .conftest import ROUTINES

ALL = [*builtin_routines(), str(ROUTINES / "evening.toml")]


def at_rate(rate: int) -> Callable[[str], int]:
    """Speech that takes as long as its words at `rate` words per minute, plus a lead-in."""
    return lambda text: 250 + len(text.split()) * 60_000 // rate


def compiled(name: str, rate: int = 150) -> Timeline:
    return compile_routine(load_routine(name), at_rate(rate))


def inside(event: Event, interval: Event) -> bool:
    return interval.start <= event.start and event.end <= interval.end


@pytest.mark.parametrize("name", ALL)
def test_holds_breaths_and_rests_do_not_depend_on_voice_speed(name: str) -> None:
    slow, fast = compiled(name, 80), compiled(name, 300)
    for kind in ("hold", "rest"):
        assert [e.duration for e in slow.events if e.kind == kind] == [
            e.duration for e in fast.events if e.kind == kind
        ]
    routine = load_routine(name)
    holds = [
        s.ms
        for t in routine.techniques
        for _ in range(t.reps * max(1, len(t.sides)))
        for s in t.steps
        if type(s).__name__ == "Hold"
    ]
    assert sorted(e.duration for e in fast.events if e.kind == "hold") == sorted(holds)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("rate", [80, 300])
def test_a_hold_is_start_chime_exact_seconds_end_chime(name: str, rate: int) -> None:
    timeline = compiled(name, rate)
    chimes = {(e.start, e.name) for e in timeline.events if e.kind == "chime"}
    for hold in (e for e in timeline.events if e.kind == "hold"):
        assert (hold.start, "hold-start") in chimes
        assert (hold.end, "hold-end") in chimes


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("rate", [80, 150, 300])
def test_speech_never_overlaps_speech(name: str, rate: int) -> None:
    speech = [e for e in compiled(name, rate).events if e.kind == "speech"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(speech))


@pytest.mark.parametrize("name", ALL)
def test_events_are_sorted_and_inside_their_sections(name: str) -> None:
    timeline = compiled(name)
    starts = [e.start for e in timeline.events]
    assert starts == sorted(starts)
    for prev, section in itertools.pairwise(timeline.sections):
        assert prev.end == section.start
    for section in timeline.sections:
        assert all(section.start <= e.start and e.end <= section.end for e in section.events)
    assert timeline.duration == timeline.sections[-1].end


def test_the_preamble_comes_first_and_covers_the_guides_warnings() -> None:
    timeline = compiled("upper-back")
    intro = timeline.sections[0]
    assert intro.technique is None and intro.start == 0
    said = " ".join(e.text or "" for e in intro.events if e.kind == "speech").lower()
    for warning in (
        "sharp",
        "spreads",
        "numbness",
        "tingling",
        "weakness",
        "osteoporosis",
        "infection",
        "surgery",
        "fall",
        "accident",
    ):
        assert warning in said
    explained = [e.name for e in intro.events if e.kind == "chime"]
    assert explained == [s for s in phrases.SOUND_GUIDE if s != "breathe-hold"]
    first_technique = timeline.sections[1].start
    assert all(e.technique is None for e in timeline.events if e.start < first_technique)
    outro = timeline.sections[-1]
    assert outro.technique is None and outro.events[-1].name == "routine-end"


def test_each_technique_opens_with_title_position_transition_then_chime() -> None:
    routine = load_routine("upper-back")
    timeline = compile_routine(routine, at_rate(150))
    before = None
    for technique, section in zip(routine.techniques, timeline.sections[1:-1], strict=True):
        events = section.events
        if before is not None and before != technique.posture:
            assert events[0].text == phrases.MOVE[technique.posture]
            events = events[1:]
        assert events[0].text == f"{technique.title}."
        assert events[1].text == technique.position
        rest = next(e for e in events if e.kind == "rest")
        assert rest.duration == phrases.transition_ms(routine, technique, before)
        before = technique.posture
        chime = next(e for e in events if e.kind == "chime")
        assert chime.name == "technique-start" and chime.start == rest.end
        assert all(e.technique == technique.title for e in events)


def test_sides_are_mirrored() -> None:
    timeline = compiled(str(ROUTINES / "evening.toml"))
    neck = timeline.sections[2]
    right = [e for e in neck.events if e.side == "right"]
    left = [e for e in neck.events if e.side == "left"]
    assert [(e.kind, e.duration) for e in right if e.kind != "speech"] == [
        (e.kind, e.duration) for e in left if e.kind not in ("speech",) and e.name != "switch-side"
    ]
    texts = [e.text for e in neck.events if e.kind == "speech"]
    assert "Tilt your head gently toward your right shoulder." in texts
    assert "Tilt your head gently toward your left shoulder." in texts
    assert "Now the left side." in texts
    assert not any("{side}" in (t or "") for t in texts)
    switch = next(e for e in neck.events if e.name == "switch-side")
    assert switch.side == "left" and all(e.start < switch.start for e in right)


def test_reps_repeat_the_steps() -> None:
    timeline = compiled(str(ROUTINES / "evening.toml"))
    hug = timeline.sections[1]
    assert len([e for e in hug.events if e.kind == "hold"]) == 2
    assert "Round two of two." in [e.text for e in hug.events]


@pytest.mark.parametrize("rate", [80, 300])
def test_time_left_cues_sit_inside_the_hold(rate: int) -> None:
    timeline = compiled("upper-back", rate)
    speech = [e for e in timeline.events if e.kind == "speech"]
    for hold in (e for e in timeline.events if e.kind == "hold"):
        spoken = {e.text: e for e in speech if inside(e, hold)}
        for group in time_left_cues(hold.duration):
            present = [text in spoken for _, text in group]
            assert all(present) or not any(present), "a countdown is said whole or not at all"
            for before_end, text in group:
                if text in spoken:
                    assert spoken[text].start == hold.end - before_end


def test_long_holds_get_a_countdown() -> None:
    timeline = compiled("floor", 150)
    hold = max((e for e in timeline.events if e.kind == "hold"), key=lambda e: e.duration)
    said = [e.text for e in timeline.events if e.kind == "speech" and inside(e, hold)]
    assert said[-4:] == ["Ten seconds left.", "Three.", "Two.", "One."]


def test_a_breathe_window_is_exact_unless_its_cue_is_too_long() -> None:
    routine = read_routine(ROUTINES / "evening.toml")
    fast = compile_routine(routine, at_rate(300))
    breaths = [e for e in fast.events if e.kind == "breathe"]
    neck = [e for e in breaths if e.technique == "Neck release"]
    assert [e.duration for e in neck] == [5000] * 4 and not fast.warnings
    for breath in breaths:
        cue = next(e for e in fast.events if e.kind == "speech" and e.start == breath.start)
        assert cue.text == breath.text
        tone = next(e for e in fast.events if e.kind == "chime" and e.start == breath.start)
        assert tone.name == f"breathe-{breath.name}"
    slow = compile_routine(routine, lambda text: len(text) * 200)
    assert any(e.duration > 5000 for e in slow.events if e.kind == "breathe")
    assert slow.warnings and "lengthened" in slow.warnings[0]


def test_compiling_is_deterministic_and_lazy() -> None:
    routine = load_routine("upper-back")
    assert compile_routine(routine, at_rate(150)) == compile_routine(routine, at_rate(150))
    asked: list[str] = []

    def measure(text: str) -> int:
        asked.append(text)
        return 1000

    first = next(compile_sections(routine, measure))
    assert first.title == "Introduction"
    assert all(e.technique is None for e in first.events)
    assert "Self-hug." not in asked


def test_cue_texts_lists_everything_spoken_first_use_first() -> None:
    routine = load_routine("desk-break")
    texts = cue_texts(routine)
    assert len(texts) == len(set(texts))
    assert texts[0] == "Desk break."
    spoken = compile_routine(routine, at_rate(80)).spoken
    assert set(spoken) <= set(texts)


def test_a_routine_over_three_hours_is_refused(routine_file) -> None:
    ok = routine_file('title = "t"\n[[technique]]\nuse = "self-hug"\nreps = 50\nhold = 150\n')
    assert compile_routine(read_routine(ok), at_rate(150)).duration < MAX_ROUTINE_MS
    long = routine_file(
        'title = "t"\n[[technique]]\nuse = "self-hug"\nreps = 50\nhold = 600\n'
        '[[technique]]\nuse = "self-hug"\nreps = 50\nhold = 600\n'
    )
    with pytest.raises(RoutineError, match="at most 3 hours"):
        compile_routine(read_routine(long), at_rate(150))


def test_number_words() -> None:
    assert [words(n) for n in (0, 7, 15, 20, 42, 100, 105, 600)] == [
        "zero",
        "seven",
        "fifteen",
        "twenty",
        "forty-two",
        "one hundred",
        "one hundred and five",
        "six hundred",
    ]


def test_chime_events_last_as_long_as_their_sound() -> None:
    for e in compiled("upper-back").events:
        if e.kind == "chime":
            assert e.name is not None and e.duration == sounds.duration_ms(e.name)
