"""Routines follow the body: the opening, the transitions and the closing fit each technique's
posture; the equipment is named before it is needed; breaths take turns; the opening explains
exactly the sounds the routine plays."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from voiceguide import phrases
from voiceguide.catalog import builtin_routines, builtin_techniques, load_routine
from voiceguide.compiler import compile_routine
from voiceguide.timeline import Section, Timeline

ALL_BUILT_INS = [*builtin_routines(), *builtin_techniques()]


def at_rate(rate: int) -> Callable[[str], int]:
    return lambda text: 250 + len(text.split()) * 60_000 // rate


def compiled(name: str, rate: int = 150) -> Timeline:
    return compile_routine(load_routine(name), at_rate(rate))


def said(section: Section) -> list[str]:
    return [e.text or "" for e in section.events if e.kind == "speech"]


def everything_said(timeline: Timeline) -> str:
    return " ".join(e.text or "" for e in timeline.events if e.kind == "speech")


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("desk-break", "chair", "chair"),
        ("floor", "floor", "wall"),
        ("upper-back", "chair", "wall"),
        ("foam-roller", "floor", "floor"),
    ],
)
def test_opening_and_closing_fit_the_first_and_last_posture(
    name: str, first: str, last: str
) -> None:
    timeline = compiled(name)
    assert said(timeline.sections[0])[-1] == phrases.SETTLE[first]
    closing = said(timeline.sections[-1])
    assert closing[:2] == list(phrases.CLOSING[last])
    assert closing[-1] == phrases.SEE_SOMEONE
    roll = "roll onto your side" in everything_said(timeline)
    assert roll == (last == "floor"), "getting up off the floor is said only after the floor"


def test_the_chair_routine_never_asks_to_lie_down() -> None:
    text = everything_said(compiled("desk-break")).lower()
    assert "lie down" not in text and "lie on" not in text and "roll onto" not in text
    assert "stay seated" in text and "back to your day" in text


def test_upper_back_ends_standing_at_the_wall() -> None:
    closing = " ".join(said(compiled("upper-back").sections[-1])).lower()
    assert "stand easy" in closing and "lie" not in closing and "seated" not in closing


def test_a_posture_change_is_announced_and_gets_a_longer_transition() -> None:
    routine = load_routine("upper-back")
    timeline = compile_routine(routine, at_rate(150))
    postures = [t.posture for t in routine.techniques]
    assert postures == ["chair", "chair", "chair", "floor", "wall"]
    quiet = [
        next(e for e in s.events if e.kind == "rest").duration for s in timeline.sections[1:-1]
    ]
    assert quiet[:3] == [routine.transition_ms] * 3
    assert quiet[3] == phrases.CHANGE_MS_TO_FLOOR > routine.transition_ms
    assert quiet[4] == phrases.CHANGE_MS_FROM_FLOOR > routine.transition_ms
    firsts = [said(s)[0] for s in timeline.sections[1:-1]]
    assert firsts[3] == phrases.MOVE["floor"] and firsts[4] == phrases.MOVE["wall"]
    assert not any(f in phrases.MOVE.values() for f in firsts[:3])


def test_getting_down_to_the_floor_at_the_start_counts_as_a_change() -> None:
    routine = load_routine("floor")
    timeline = compile_routine(routine, at_rate(150))
    first = timeline.sections[1]
    rest = next(e for e in first.events if e.kind == "rest")
    assert rest.duration == phrases.CHANGE_MS_TO_FLOOR
    assert said(first)[0] == "Foam roller.", "the opening already said to get down"


def test_a_technique_may_set_its_own_transition(routine_file) -> None:
    path = routine_file(
        'title = "t"\ntransition = 7\n[[technique]]\nuse = "self-hug"\n'
        '[[technique]]\nuse = "foam-roller"\ntransition = 3\n'
        '[[technique]]\ntitle = "Wall angel"\nposture = "wall"\ntransition = 0\n'
        'steps = [{ say = "Slide your arms up the wall." }]\n'
    )
    timeline = compile_routine(load_routine(str(path)), at_rate(150))
    rests = [[e for e in s.events if e.kind == "rest"] for s in timeline.sections[1:-1]]
    assert [r[0].duration for r in rests[:2]] == [7000, 3000]
    assert rests[2] == [], "no quiet at all when a technique asks for none"


def test_an_unknown_posture_is_an_error_naming_the_four(run, routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\ntitle = "x"\nposture = "lying"\nsteps = [{ say = "a" }]\n'
    )
    result = run("check", str(path))
    assert result.status == 2
    assert result.err == (
        "error: routine.toml: technique 1, posture: must be one of 'chair', 'standing', "
        "'wall', 'floor', got 'lying'\n"
    )


def test_equipment_is_spoken_before_the_first_technique() -> None:
    timeline = compiled("upper-back")
    intro = said(timeline.sections[0])
    assert intro[1] == (
        "You will need a sturdy chair with a low back, a foam roller and a lacrosse or tennis ball."
    )
    assert said(compiled("floor").sections[0])[1] == (
        "You will need a foam roller and a lacrosse or tennis ball."
    )
    assert said(compiled("self-hug").sections[0])[1] == "You will need a chair."


def test_equipment_is_named_with_the_right_article(routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\ntitle = "x"\n'
        'equipment = ["yoga mat", "elastic band", "two tennis balls in a sock", "towels", '
        '"mat"]\nsteps = [{ say = "a" }]\n'
    )
    routine = load_routine(str(path))
    assert phrases.needs_sentence(phrases.equipment(routine)) == (
        "You will need a yoga mat, an elastic band, two tennis balls in a sock and towels."
    ), "'mat' is covered by 'yoga mat'"


@pytest.mark.parametrize("name", ALL_BUILT_INS)
def test_breaths_alternate_in_every_built_in(name: str) -> None:
    """Across steps, reps and sides: never two in-breaths (or out-breaths) in a row."""
    timeline = compiled(name)
    for section in timeline.sections:
        directions = [e.name for e in section.events if e.kind == "breathe" and e.name != "hold"]
        assert all(a != b for a, b in itertools.pairwise(directions)), (
            section.title,
            directions,
        )
    assert not timeline.warnings, timeline.warnings


@pytest.mark.parametrize("name", ALL_BUILT_INS)
def test_the_opening_explains_exactly_the_sounds_the_routine_uses(name: str) -> None:
    timeline = compiled(name)
    intro, rest = timeline.sections[0], timeline.sections[1:]
    explained = [e.name for e in intro.events if e.kind == "chime"]
    used = {e.name for s in rest for e in s.events if e.kind == "chime"}
    assert sorted(explained) == sorted(used), "each sound used, once, and no other"
    texts = said(intro)
    for sound in explained:
        assert phrases.SOUND_GUIDE[sound] in texts


def test_a_routine_without_holds_or_breaths_does_not_explain_them(routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "a" }, { rest = 2 }]\n'
    )
    intro = compile_routine(load_routine(str(path)), at_rate(150)).sections[0]
    assert [e.name for e in intro.events if e.kind == "chime"] == [
        "technique-start",
        "routine-end",
    ]
    assert said(intro)[-1] == phrases.SETTLE[None]


def test_play_shows_what_to_fetch_and_how_to_settle() -> None:
    assert phrases.briefing(load_routine("desk-break")) == (
        "You will need a sturdy chair with a low back. " + phrases.SCREEN["chair"]
    )
    assert phrases.briefing(load_routine("floor")).endswith(phrases.SCREEN["floor"])
    assert "Lie down" not in phrases.briefing(load_routine("desk-break"))


def test_a_resumed_briefing_settles_for_the_technique_it_starts_with() -> None:
    """upper-back starts on a chair and moves to the floor: resumed at a floor technique,
    play says how to lie down, not how to sit."""
    routine = load_routine("upper-back")
    on_floor = next(i for i, p in enumerate(phrases.postures(routine), 1) if p == "floor")
    assert phrases.briefing(routine).endswith(phrases.SCREEN[phrases.first_posture(routine)])
    assert phrases.briefing(routine, on_floor).endswith(phrases.SCREEN["floor"])
    assert phrases.SCREEN["floor"] != phrases.SCREEN[phrases.first_posture(routine)]
