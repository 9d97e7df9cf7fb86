"""Pace: every hold, breath window, rest and transition scaled exactly; the speech never."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voiceguide import api
from voiceguide.catalog import load_routine
from voiceguide.compiler import compile_routine, paced
from voiceguide.config import config_path
from voiceguide.timeline import Timeline

from .conftest import ROUTINES
from .test_export import probe

QUIET = ("hold", "breathe", "rest")


def quiet(timeline: Timeline) -> list[tuple[str, int]]:
    return [(e.kind, e.duration) for e in timeline.events if e.kind in QUIET]


@pytest.mark.parametrize("name", ["upper-back", "desk-break", "floor"])
@pytest.mark.parametrize("pace", [0.5, 2.0])
def test_every_hold_breath_rest_and_transition_is_scaled_exactly(name: str, pace: float) -> None:
    routine = load_routine(name)
    tiny = compile_routine(routine, lambda text: 1)  # no cue lengthens any window
    scaled = compile_routine(routine, lambda text: 1, pace=pace)
    assert quiet(scaled) == [(kind, round(ms * pace)) for kind, ms in quiet(tiny)]
    transitions = [e for e in scaled.events if e.kind == "rest" and e.text != "rest"]
    assert transitions, "every built-in routine has quiet to get into place"


def speech(timeline: dict) -> dict[str, set[float]]:
    lengths: dict[str, set[float]] = {}
    for event in timeline["events"]:
        if event["kind"] == "speech":
            lengths.setdefault(event["text"], set()).add(event["duration"])
    return lengths


@pytest.mark.speech
@pytest.mark.parametrize("pace", ["0.5", "2"])
def test_the_real_engine_speaks_every_cue_at_the_same_length(run, pace: str) -> None:
    """Real clips (espeak-ng): holds scaled, each spoken cue exactly as long as at pace 1."""
    short = str(ROUTINES / "short.toml")
    base = run("show", short, "--engine", "espeak", "--json")
    other = run("show", short, "--engine", "espeak", "--json", "--pace", pace)
    assert base.status == other.status == 0, other.err
    before, after = json.loads(base.out), json.loads(other.out)
    shared = speech(before).keys() & speech(after).keys()
    assert len(shared) > 5
    for text in shared:
        assert speech(after)[text] == speech(before)[text], text
    holds = [
        round(e["duration"] * 1000)
        for timeline in (before, after)
        for e in timeline["events"]
        if e["kind"] == "hold"
    ]
    half = len(holds) // 2
    assert half == 2 and holds[half:] == [round(ms * float(pace)) for ms in holds[:half]]


def test_time_left_cues_are_laid_out_for_the_new_length(tmp_path: Path) -> None:
    path = tmp_path / "hold.toml"
    path.write_text('title = "Hold"\n[[technique]]\ntitle = "Still"\nsteps = [{ hold = 26 }]\n')
    routine = load_routine(str(path))

    def spoken(pace: float) -> tuple[str, ...]:
        return compile_routine(routine, lambda text: 500, pace=pace).spoken

    assert "Ten seconds left." in spoken(1)
    assert "Ten seconds left." not in spoken(0.5)  # 13 s: only the countdown fits
    assert "Three." in spoken(0.5) and "Hold for thirteen seconds." in spoken(0.5)
    assert "Thirty seconds left." not in spoken(1)
    assert "Thirty seconds left." in spoken(2.0) and "Hold for fifty-two seconds." in spoken(2.0)


def test_paced_keeps_whole_milliseconds() -> None:
    assert paced(25_000, 0.5) == 12_500
    assert paced(3_333, 0.5) == 1_666  # round half to even: one rule everywhere
    assert paced(0, 2.0) == 0
    assert paced(1, 0.5) == 1


def test_command_line_beats_the_routine_which_beats_the_config(run, tmp_path: Path) -> None:
    path = tmp_path / "paced.toml"
    path.write_text(
        'title = "Paced"\npace = 2\n[[technique]]\ntitle = "Still"\nsteps = [{ hold = 10 }]\n'
    )
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("pace = 0.5\n")

    def hold(*args: str) -> int:
        result = run("show", *args, "--estimate", "--json")
        assert result.status == 0, result.err
        events = json.loads(result.out)["events"]
        return next(round(e["duration"] * 1000) for e in events if e["kind"] == "hold")

    assert hold(str(path)) == 20_000
    assert hold(str(path), "--pace", "1.5") == 15_000
    short = str(ROUTINES / "short.toml")
    assert hold(short) == 4_500  # 9 s at the config's 0.5


@pytest.mark.parametrize("value", ["0.4", "2.01", "fast"])
def test_a_pace_out_of_range_on_the_command_line_is_refused(run, value: str) -> None:
    result = run("show", "desk-break", "--estimate", "--pace", value)
    assert result.status == 2
    assert "Invalid value for '--pace'" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("value", ["3", "0", "true", '"slow"', "nan"])
def test_a_pace_out_of_range_in_a_routine_is_one_error_line(
    run, tmp_path: Path, value: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        f'title = "Bad"\npace = {value}\n[[technique]]\ntitle = "T"\nsteps = [{{ hold = 5 }}]\n'
    )
    result = run("check", str(path))
    assert result.status == 2
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("error: bad.toml: pace: must be a number from 0.5 to 2.0")


def test_a_pace_out_of_range_in_the_config_is_one_error_line(run) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("pace = 2.5\n")
    result = run("show", "desk-break", "--estimate")
    assert result.status != 0
    assert result.err == (
        f"error: {config_path()}: pace: must be a number from 0.5 to 2.0 (1 is as written), "
        "got 2.5\n"
    )


def test_list_shows_lengths_at_the_pace(run) -> None:
    def length(*args: str) -> int:
        line = next(line for line in run("list", *args).out.splitlines() if "desk-break" in line)
        minutes, seconds = line.split()[1].removeprefix("~").split(":")
        return int(minutes) * 60 + int(seconds)

    assert length("--pace", "0.5") < length() < length("--pace", "2")


@pytest.mark.speech
def test_exported_chapters_and_transcript_follow_the_pace(run, tmp_path: Path) -> None:
    short = str(ROUTINES / "short.toml")
    audio, vtt = tmp_path / "slow.mp3", tmp_path / "slow.vtt"
    args = ("--engine", "espeak", "--pace", "2")
    result = run("export", short, "-o", str(audio), "--transcript", str(vtt), *args)
    assert result.status == 0, result.err
    shown = api.compile(short, api.Options(engine="espeak", pace=2.0))
    quick = api.compile(short, api.Options(engine="espeak"))
    assert shown.duration - quick.duration == sum(d for _, d in quiet(quick))  # all doubled
    chapters = probe(audio)["chapters"]
    assert [round(float(c["start_time"]) * 1000) for c in chapters] == [
        s.start for s in shown.sections
    ]
    assert [round(float(c["start_time"]) * 1000) for c in chapters] != [
        s.start for s in quick.sections
    ]
    text = vtt.read_text()
    last = [e for e in shown.events if e.kind == "speech"][-1]
    minutes, rest = divmod(last.start, 60_000)
    assert f"{minutes:02d}:{rest / 1000:06.3f} --> " in text
