"""Detail levels: brief for someone who knows the routine (the safety warning in one sentence,
never dropped; no sounds explained; positions in one line), full the first time and after a
long break."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from voiceguide import history, phrases
from voiceguide.catalog import builtin_techniques, load_routine
from voiceguide.compiler import compile_routine
from voiceguide.config import config_path
from voiceguide.timeline import Section

from .test_history import BASE, SHORT, Device, play, rows
from .test_history import device as device  # the fake sound device and clock

pytestmark = pytest.mark.speech


def spoken(section: Section) -> list[str]:
    return [e.text or "" for e in section.events if e.kind == "speech"]


def at_rate(text: str) -> int:
    return 400 * len(text.split()) + 200


@pytest.mark.parametrize("name", ["upper-back", "desk-break", "floor"])
def test_the_brief_opening_is_shorter_and_keeps_the_safety_sentence(name: str) -> None:
    routine = load_routine(name)
    full = compile_routine(routine, at_rate).sections[0]
    brief = compile_routine(routine, at_rate, detail="brief").sections[0]
    assert brief.duration < full.duration / 2
    assert phrases.SAFETY_BRIEF in spoken(brief)
    assert all(text in spoken(full) for text in phrases.SAFETY)
    assert not set(phrases.SOUND_GUIDE.values()) & set(spoken(brief))
    assert phrases.SOUNDS_INTRO not in spoken(brief)
    assert not [e for e in brief.events if e.kind == "chime"], "no sound played to explain it"
    assert spoken(brief)[0] == spoken(full)[0] and spoken(brief)[-1] == spoken(full)[-1]


def test_every_built_in_has_a_brief_position_and_never_drops_its_safety() -> None:
    for tid, technique in builtin_techniques().items():
        assert technique.brief_position, tid
        assert len(technique.brief_position) < len(technique.position or "")
        routine = load_routine(tid)
        brief = compile_routine(routine, at_rate, detail="brief").sections[1]
        full = compile_routine(routine, at_rate).sections[1]
        assert spoken(brief)[:2] == [f"{technique.title}.", technique.brief_position]
        if technique.safety:
            assert (technique.brief_safety or technique.safety) in spoken(brief), tid
            assert technique.safety in spoken(full)
        assert brief.duration < full.duration


def test_a_technique_without_brief_texts_falls_back_to_full(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'title = "Mine"\n[[technique]]\ntitle = "Lean"\nposture = "chair"\n'
        'position = "Sit on the front half of the seat."\n'
        'safety = "Keep your feet flat."\nsteps = [{ hold = 10 }]\n'
    )
    brief = compile_routine(load_routine(str(path)), at_rate, detail="brief").sections[1]
    assert spoken(brief)[:3] == [
        "Lean.",
        "Sit on the front half of the seat.",
        "Keep your feet flat.",
    ]


def test_brief_texts_are_checked_like_every_cue(run, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'title = "Bad"\n[[technique]]\ntitle = "T"\nbrief_position = "..."\n'
        "steps = [{ hold = 5 }]\n"
    )
    result = run("check", str(path))
    assert result.status == 2
    assert result.err.startswith("error: bad.toml: technique 1, brief_position: must have")
    assert result.err.count("\n") == 1


def test_detail_on_the_command_line_and_in_the_config(run) -> None:
    def opening(*args: str) -> str:
        result = run("show", "desk-break", "--estimate", *args)
        assert result.status == 0, result.err
        return result.out.split("== Self-hug ==")[0]

    assert phrases.SOUNDS_INTRO in opening()
    assert phrases.SOUNDS_INTRO not in opening("--detail", "brief")
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('detail = "brief"\n')
    assert phrases.SOUNDS_INTRO not in opening()
    assert phrases.SOUNDS_INTRO in opening("--detail", "full")
    config_path().write_text('detail = "short"\n')
    result = run("show", "desk-break", "--estimate")
    assert result.status == 2
    assert (
        result.err == f'error: {config_path()}: detail: must be "full" or "brief", got \'short\'\n'
    )


def test_list_lengths_follow_the_detail(run) -> None:
    def seconds(length: str) -> int:
        minutes, rest = length.removeprefix("~").split(":")
        return 60 * int(minutes) + int(rest)

    def lengths(*args: str) -> dict[str, int]:
        result = run("list", *args)
        assert result.status == 0, result.err
        lines = [line.split() for line in result.out.splitlines()]
        return {line[0]: seconds(line[1]) for line in lines if ":" in line[1]}

    def shown(name: str, *args: str) -> int:
        first = run("show", name, "--estimate", *args).out.splitlines()[0]
        return seconds(first.split("(")[-1].rstrip(")"))

    full, brief = lengths(), lengths("--detail", "brief")
    for name in ("upper-back", "desk-break", "floor", "self-hug", "foam-roller"):
        assert brief[name] < full[name], name
    assert (full["upper-back"], brief["upper-back"]) == (
        shown("upper-back"),
        shown("upper-back", "--detail", "brief"),
    ), "as show reckons them"
    assert lengths("--detail", "full") == full
    slow = lengths("--detail", "brief", "--pace", "2")
    assert slow["desk-break"] > brief["desk-break"], "both apply"
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('detail = "brief"\n')
    assert lengths() == brief, "the config's detail"
    assert lengths("--detail", "full") == full, "the command line wins"


def test_play_is_full_the_first_time_and_after_a_long_break(
    run, device: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('detail = "brief"\n')
    when = [BASE]
    monkeypatch.setattr(
        history.clock, "now", lambda: when[0] + datetime.timedelta(seconds=device.clock.now())
    )

    def session(days: int, *args: str) -> object:
        when[0] = BASE + datetime.timedelta(days=days)
        device.clock.t = 0.0
        assert play(run, SHORT, *args).status == 0
        return rows()[-1]["detail"]

    assert session(0) == "full", "the first session with a routine"
    assert session(1) == "brief", "then the config's"
    assert session(31) == "brief", "30 days after the first: not a break since the last"
    assert session(62) == "full", "31 days since the last: a long break"
    assert session(62, "--detail", "brief") == "brief", "unless asked on the command line"


def test_the_first_session_is_brief_when_asked(run, device: Device) -> None:
    assert play(run, SHORT, "--detail", "brief").status == 0
    assert rows()[-1]["detail"] == "brief"
