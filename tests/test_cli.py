import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROUTINES

SHORT_ROUTINE = str(ROUTINES / "short.toml")

BAD = [
    # (routine file text, what its one-line message must say)
    ('summary = "x"\n[[technique]]\nuse = "self-hug"\n', "routine.toml: a routine needs 'title'"),
    ('title = "t"\n', "routine.toml: a routine needs 'technique'"),
    (
        'title = "t"\ntechnique = "self-hug"\n',
        "technique: must be one or more [[technique]] tables",
    ),
    (
        'title = "t"\n[[technique]]\nuse = "self-hug"\nrep = 3\n',
        "technique 1: unknown key 'rep' in a technique with 'use' (did you mean 'reps'?)",
    ),
    ('title = "t\n[[technique]]\n', "routine.toml: line 1: invalid TOML"),
    (
        'title = "t"\nrate = 500\n[[technique]]\nuse = "self-hug"\n',
        "rate: must be words per minute from 60 to 400, got 500",
    ),
    (
        'title = "t"\nrate = "fast"\n[[technique]]\nuse = "self-hug"\n',
        "rate: must be words per minute",
    ),
    ('title = "t"\nrate = true\n[[technique]]\nuse = "self-hug"\n', "got true"),
    (
        'title = "t"\n[[technique]]\nuse = "self-hugg"\n',
        "technique 1, use: no technique 'self-hugg' (did you mean 'self-hug'?); techniques: ",
    ),
    (
        'title = "t"\n[[technique]]\nuse = "self-hug"\nreps = 0\n',
        "technique 1, reps: must be a whole number from 1 to 50, got 0",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ hold = -5 }]\n',
        "technique 1, step 1, hold: must be seconds in (0, 600], got -5",
    ),
    ('title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ hold = nan }]\n', "got nan"),
    ('title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ rest = inf }]\n', "got inf"),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ hold = 5, rest = 5 }]\n',
        "step 1: a step takes exactly one of breathe, hold, rest, chime, say; got hold and rest",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ sai = "hello" }]\n',
        "technique 1, step 1: a step needs one of say, breathe, hold, rest, chime; got 'sai'",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "a", extra = 1 }]\n',
        "unknown key 'extra' in a say step",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\n'
        'steps = [{ breathe = "sideways", seconds = 4 }]\n',
        'step 1, breathe: must be "in", "out" or "hold", got \'sideways\'',
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ breathe = "in" }]\n',
        "technique 1, step 1: a breathe step needs 'seconds'",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = []\n',
        "technique 1, steps: must be a non-empty list",
    ),
    (
        'title = "t"\n[[technique]]\nsteps = [{ say = "a" }]\n',
        "technique 1: a technique needs 'title'",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "' + "a" * 1001 + '" }]\n',
        "step 1, say: must be at most 1000 characters, got 1001",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "to the {side}" }]\n',
        "technique 1: text uses {side} but the technique has no sides",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ chime = "gong" }]\n',
        "step 1, chime: must name a sound",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "a\\u0001b" }]\n',
        "must not contain control or unassigned characters, got U+0001",
    ),
    (
        'title = "t"\ntransition = -1\n[[technique]]\nuse = "self-hug"\n',
        "transition: must be seconds in [0, 600], got -1",
    ),
    (
        'title = "t"\n[[technique]]\ntitle = "x"\nsides = ["left", "left"]\n'
        'steps = [{ say = "a" }]\n',
        "sides: must not repeat a side",
    ),
    (
        'title = "t"\n[[technique]]\nuse = "self-hug"\nreps = 50\nhold = 600\n'
        '[[technique]]\nuse = "self-hug"\nreps = 50\nhold = 600\n',
        "must compile to at most 3 hours",
    ),
    (b'title = "caf\xe9"\n', "routine.toml: line 1: not UTF-8 text"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
@pytest.mark.parametrize("command", ["check", "show"])
def test_a_bad_routine_gives_exit_2_and_a_one_line_message(
    run, routine_file, command: str, text: str | bytes, message: str
) -> None:
    path = routine_file(text)
    args = [command, str(path)] + (["--estimate"] if command == "show" else [])
    result = run(*args)
    assert result.status == 2
    assert message in result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert all(line.startswith("error: routine.toml") for line in lines), lines
    assert result.out == ""


def test_check_lists_every_problem_in_every_file(run, routine_file) -> None:
    bad = routine_file('rate = 999\n[[technique]]\nuse = "nope"\n', "bad.toml")
    result = run("check", str(bad), str(ROUTINES / "evening.toml"), str(bad.parent / "gone.toml"))
    assert result.status == 2
    assert result.err.splitlines() == [
        "error: bad.toml: a routine needs 'title'",
        "error: bad.toml: rate: must be words per minute from 60 to 400, got 999",
        "error: bad.toml: technique 1, use: no technique 'nope'; techniques: ball-release, "
        "chair-back-extension, foam-roller, seated-thoracic-twist, self-hug "
        "(see 'voiceguide list')",
        "error: gone.toml: no such file",
    ]
    assert "evening.toml: ok" in result.out


def test_check_passes_clean_files(run) -> None:
    result = run("check", str(ROUTINES / "evening.toml"), "upper-back")
    assert result.status == 0, result.err
    assert result.out.count(": ok") == 2


def test_unknown_routine_and_bad_options_are_usage_errors(run) -> None:
    result = run("show", "uper-back", "--estimate")
    assert result.status == 2
    assert "no routine or technique 'uper-back' (did you mean 'upper-back'?)" in result.err
    result = run("show", "upper-back", "--rate", "500", "--estimate")
    assert result.status == 2 and "must be words per minute from 60 to 400, got 500" in result.err
    assert "Traceback" not in result.err


def test_show_json_follows_the_contract(run) -> None:
    result = run("show", "desk-break", "--json", "--estimate")
    assert result.status == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {"title", "duration", "events"}
    assert data["title"] == "Desk break"
    events = data["events"]
    assert {e["kind"] for e in events} == {"speech", "chime", "hold", "breathe", "rest"}
    for e in events:
        assert set(e) == {"start", "duration", "kind", "text", "name", "technique", "side"}
        assert (e["text"] is not None) == (e["kind"] != "chime")
        assert (e["name"] is not None) == (e["kind"] in ("chime", "breathe"))
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)
    assert events[0]["technique"] is None and events[-1]["technique"] is None
    assert max(e["start"] + e["duration"] for e in events) <= data["duration"]


def test_show_reads_like_a_timeline(run) -> None:
    result = run("show", str(ROUTINES / "evening.toml"), "--estimate")
    assert result.status == 0
    assert result.out.startswith("Evening unwind  (")
    assert "== Neck release ==" in result.out
    assert "hold    12 s" in result.out
    assert "speech  Tilt your head gently toward your left shoulder. (left)" in result.out


def test_list_shows_routines_and_techniques_with_length_and_equipment(run) -> None:
    result = run("list")
    assert result.status == 0
    lines = result.out.splitlines()
    needs = {line.split()[0]: line.partition("[needs ")[2] for line in lines[1:]}
    chair = "sturdy chair with a low back"
    assert needs["upper-back"] == f"{chair}, foam roller, lacrosse or tennis ball]"
    assert needs["desk-break"] == f"{chair}]", "the chair is named too, once"
    assert needs["self-hug"] == "chair]"
    for name in (
        "self-hug",
        "foam-roller",
        "ball-release",
        "chair-back-extension",
        "seated-thoracic-twist",
        "floor",
    ):
        assert any(line.startswith(f"  {name} ") for line in lines)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("upper-back", ()),
        ("desk-break", ()),
        ("floor", ()),
        ("upper-back", ("--pace", "2")),
    ],
)
def test_golden_timelines(run, name: str, args: tuple[str, ...]) -> None:
    file = name + "".join("-" + arg.lstrip("-") for arg in args)
    golden = Path(__file__).parent / "golden" / f"{file}.txt"
    expected = golden.read_text().split("\n", 1)[1]
    result = run("show", name, "--estimate", *args)
    assert result.out == expected, "run scripts/update-golden and review"


def test_the_installed_package_runs_from_anywhere(tmp_path: Path) -> None:
    """The wheel carries its data: built-ins and sounds load outside the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "voiceguide", "show", "floor", "--estimate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "technique-start" in result.stdout
    located = subprocess.run(
        [sys.executable, "-c", "import voiceguide.sounds as s; print(s.sound_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "site-packages" in located.stdout, "tests must run against an installed voiceguide"


@pytest.mark.speech
def test_voices_lists_ids_names_and_languages(run) -> None:
    result = run("voices")
    assert result.status == 0
    lines = result.out.splitlines()
    assert len(lines) > 20
    english = [line for line in lines if line.split()[0] == "gmw/en-US"]
    assert english and "en-us" in english[0]


@pytest.mark.speech
def test_an_unknown_voice_is_refused_with_close_matches(run) -> None:
    result = run("show", SHORT_ROUTINE, "--voice", "en-uss")
    assert result.status == 2
    assert result.err.startswith("error: unknown voice 'en-uss'")
    assert "en-us" in result.err and result.err.count("\n") == 1


@pytest.mark.speech
def test_rate_comes_from_the_command_line_then_routine_then_config(run, routine_file) -> None:
    from voiceguide.config import remember

    def speech_seconds(*args: str) -> float:
        data = json.loads(run("show", *args, "--json").out)
        return sum(e["duration"] for e in data["events"] if e["kind"] == "speech")

    plain = routine_file('title = "t"\n[[technique]]\nuse = "self-hug"\n', "plain.toml")
    fast = routine_file('title = "t"\nrate = 300\n[[technique]]\nuse = "self-hug"\n', "fast.toml")
    default = speech_seconds(str(plain))
    remember("rate", 100)
    from_config = speech_seconds(str(plain))
    assert from_config > 1.3 * default
    assert speech_seconds(str(fast)) < 0.7 * default, "the routine's rate beats the config's"
    assert speech_seconds(str(fast), "--rate", "100") == pytest.approx(from_config, rel=0.05)


def test_a_bad_config_file_is_named_in_one_line(run) -> None:
    from voiceguide.config import config_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("rate = 1000\n")
    result = run("show", "floor", "--estimate")
    assert result.status == 2
    assert result.err == (
        f"error: {config_path()}: rate: must be words per minute from 60 to 400, got 1000\n"
    )


@pytest.mark.speech
def test_cache_clear_empties_the_cache(run) -> None:
    assert run("show", SHORT_ROUTINE, "--json").status == 0
    result = run("cache", "clear")
    assert result.status == 0
    assert int(result.out.split()[1]) > 5
    assert run("cache", "clear").out.startswith("removed 0 clip(s)")


def test_the_readme_names_only_real_commands_and_options() -> None:
    """The README's examples are checked against the CLI itself, so they cannot go stale."""
    import re

    from voiceguide.cli import cli

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    used = re.findall(r"^voiceguide ([a-z]+)(.*?)(?:#|$)", readme, flags=re.M)
    assert len(used) >= 8
    for command, rest in used:
        assert command in cli.commands, command
        options = {o for p in cli.commands[command].params for o in p.opts}
        for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", rest):
            assert option in options, f"voiceguide {command} {option}"
