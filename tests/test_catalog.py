"""A technique id works wherever a routine does; built-ins print as TOML to copy; the user's own
technique files in the config folder are used by id and listed."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from voiceguide import cli, screening
from voiceguide.catalog import LIBRARY, user_folder
from voiceguide.config import remember_all

TWIST = """title = "Gentle twist"
posture = "chair"
equipment = "chair"
sides = ["right", "left"]
steps = [
  { breathe = "in", seconds = 4, say = "Breathe in, and sit tall." },
  { breathe = "out", seconds = 5, say = "Breathe out, and turn a little to the {side}." },
]
"""


def own(name: str, text: str) -> Path:
    folder = user_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_show_a_technique_id_as_a_routine_of_its_own(run) -> None:
    result = run("show", "self-hug", "--json", "--estimate")
    assert result.status == 0, result.err
    events = json.loads(result.out)["events"]
    techniques = {e["technique"] for e in events} - {None}
    assert techniques == {"Self-hug"}
    texts = [e["text"] for e in events if e["kind"] == "speech"]
    assert texts[0] == "Self-hug."
    assert "You will need a chair." in texts, "the usual opening"
    assert texts[-1].startswith("If pain lingers"), "the usual closing"
    assert events[-1]["name"] == "routine-end"


@pytest.mark.speech
def test_export_a_technique_id(run, tmp_path: Path) -> None:
    out = tmp_path / "hug.wav"
    result = run("export", "self-hug", "-o", str(out))
    assert result.status == 0, result.err
    seconds = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", out],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert 60 < seconds < 300


@pytest.mark.speech
def test_play_a_technique_id_exports_it_without_a_device(run, tmp_path: Path) -> None:
    """The real `play` path: loading the technique, then no device here, so it exports."""
    out = tmp_path / "hug.mp3"
    result = run("play", "ball-release", "--yes", "--else-export", str(out))
    assert result.status == 0, result.err
    assert out.stat().st_size > 10_000 and out.with_suffix(".vtt").exists()


def test_play_says_what_to_fetch_and_how_to_sit(run, device: list[str], monkeypatch) -> None:
    monkeypatch.setattr(cli.session, "_interactive", lambda: True)
    monkeypatch.setattr("click.termui.visible_prompt_func", lambda *_: "")
    remember_all(screening.clean(screening.today()))
    result = run("play", "desk-break")
    assert result.status == 0, result.err
    assert device == ["desk-break", "run"]
    assert result.out.startswith(
        "You will need a sturdy chair with a low back. Sit on a sturdy chair, close your eyes, "
        "and listen. Keys:"
    )
    assert "Lie down" not in result.out
    assert run("play", "floor").out.startswith(
        "You will need a foam roller and a lacrosse or tennis ball. Get down onto the floor"
    )


@pytest.mark.parametrize(("name", "kind"), [("self-hug", "technique"), ("floor", "routine")])
def test_show_source_prints_the_toml_as_written(run, name: str, kind: str) -> None:
    result = run("show", name, "--source")
    assert result.status == 0, result.err
    folder = "techniques" if kind == "technique" else "routines"
    written = (LIBRARY / folder / f"{name}.toml").read_text()
    assert result.out.startswith(f"# {kind} {name}, from ")
    assert result.out.endswith(written)
    assert tomllib.loads(result.out) == tomllib.loads(written), "still valid TOML to copy"


def test_a_changed_copy_of_a_built_in_becomes_the_users_own(run) -> None:
    source = run("show", "self-hug", "--source").out
    own("slow-hug", source.replace("reps = 3", "reps = 1"))
    result = run("show", "slow-hug", "--json", "--estimate")
    assert result.status == 0, result.err
    holds = [e for e in json.loads(result.out)["events"] if e["kind"] == "hold"]
    assert len(holds) == 1


def test_a_user_technique_is_used_by_id_and_listed(run, routine_file) -> None:
    own("gentle-twist", TWIST)
    path = routine_file('title = "Mine"\n[[technique]]\nuse = "gentle-twist"\nreps = 2\n')
    result = run("show", str(path), "--json", "--estimate")
    assert result.status == 0, result.err
    texts = [e["text"] for e in json.loads(result.out)["events"] if e["kind"] == "speech"]
    assert "Breathe out, and turn a little to the left." in texts
    assert "Round two of two." in texts
    listed = run("list").out.splitlines()
    assert any(line.startswith("* gentle-twist ") and "[needs chair]" in line for line in listed)
    assert any(line.startswith("  self-hug ") for line in listed), "built-ins are not marked"
    assert run("check", "gentle-twist").status == 0


def test_a_user_technique_with_a_built_in_id_is_an_error(run, routine_file) -> None:
    clash = own("self-hug", TWIST)
    result = run("list")
    assert result.status == 2
    assert result.err == (
        f"error: {clash}: a built-in technique is already called 'self-hug'; rename the file "
        "(the id is the file name), e.g. to my-self-hug.toml\n"
    )


def test_a_broken_user_technique_names_its_file(run, routine_file) -> None:
    broken = own("bad", 'title = "x"\nsteps = [{ hold = -1 }]\n')
    path = routine_file('title = "Mine"\n[[technique]]\nuse = "bad"\n')
    result = run("check", str(path))
    assert result.status == 2
    assert result.err == f"error: {broken}: step 1, hold: must be seconds in (0, 600], got -1\n"


def test_an_unknown_id_lists_the_users_techniques_too(run, routine_file) -> None:
    own("gentle-twist", TWIST)
    result = run("check", str(routine_file('title = "t"\n[[technique]]\nuse = "gentle"\n')))
    assert result.status == 2
    assert "(did you mean 'gentle-twist'?)" in result.err
    assert "self-hug, gentle-twist (see 'voiceguide list')" in result.err
