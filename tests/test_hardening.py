"""Classes of hostile input found by attacking the program on purpose, each held through the
real CLI (or the real interpreter): numbers that are not finite, the import layers, a test
that hangs."""

from __future__ import annotations

import ast
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from voiceguide import api
from voiceguide.errors import UsageError

REPO = Path(__file__).parent.parent
PACKAGE = REPO / "voiceguide"


# --- NaN and infinities ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("key", ["rate", "pace", "loudness", "ambience_level"])
def test_a_library_call_refuses_a_number_that_is_not_finite(key: str, value: float) -> None:
    with pytest.raises(UsageError, match=rf"^{key}: must be .*, got -?(nan|inf)$"):
        api.Options(**{key: value})


@pytest.mark.parametrize(
    ("option", "spelling"),
    [("--loudness", "nan"), ("--ambience-level", "NaN"), ("--pace", "-nan"), ("--pace", "1e999")],
)
def test_an_export_never_writes_a_silent_file_for_nan(
    run, tmp_path: Path, option: str, spelling: str
) -> None:
    audio = tmp_path / "out.wav"
    result = run("export", "desk-break", "-o", str(audio), option, spelling)
    assert result.status == 2 and "Traceback" not in result.err
    assert f"Invalid value for '{option}': must be " in result.err
    assert not audio.exists() and result.out == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["play", "--rate", "abc"], "Invalid value for '--rate': must be words per minute"),
        (["play", "--bogus"], "No such option '--bogus' (see 'voiceguide play --help')"),
        (["exprot"], "No such command 'exprot'. Did you mean 'export'? (see 'voiceguide --help')"),
        (["export"], "Missing argument 'ROUTINE' (see 'voiceguide export --help')"),
    ],
)
def test_a_mistyped_command_line_is_one_line_naming_the_help(run, args, says: str) -> None:
    result = run(*args)
    assert result.status == 2 and result.out == ""
    assert result.err.splitlines() == [f"error: {result.err.removeprefix('error: ').rstrip()}"]
    assert says in result.err


@pytest.mark.parametrize("command", ["show", "list", "check"])
def test_pace_nan_is_one_error_in_every_command(run, command: str) -> None:
    args = [] if command == "list" else ["upper-back"]
    result = run(command, *args, "--pace", "nan")
    assert result.status == 2 and "Traceback" not in result.err
    assert "'--pace': must be a number from 0.5 to 2.0 (1 is as written), got nan" in result.err


# --- The layers -----------------------------------------------------------------------------

ABOVE_LANGUAGE = {
    "catalog",
    "api",
    "cli",
    "compiler",
    "phrases",
    "lint",
    "render",
    "player",
    "export",
    "session",
    "history",
    "speech",
    "program",
}
"""What stands above the routine language (README, Development): it may import none of it."""


def imported(path: Path) -> set[str]:
    """The voiceguide modules a file imports, anywhere in it (a function's imports too), by
    their first name under voiceguide/."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level >= 2:  # from .. or from ..x
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def test_the_language_imports_nothing_above_it() -> None:
    for path in sorted((PACKAGE / "language").glob("*.py")):
        above = imported(path) & ABOVE_LANGUAGE
        assert not above, f"{path.name} imports {sorted(above)}"


def test_importing_the_language_loads_no_layer_above_it() -> None:
    """The package's face re-exports only its own: no import circle through the catalog."""
    code = (
        "import json, sys, voiceguide.language\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('voiceguide.')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[1] for name in json.loads(done.stdout)}
    assert not loaded & ABOVE_LANGUAGE, loaded


# --- A test that hangs --------------------------------------------------------------------


def test_the_suite_has_a_per_test_timeout() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    options = config["tool"]["pytest"]["ini_options"]
    assert 60 <= options["timeout"] <= 900
    assert any(
        dep.startswith("pytest-timeout")
        for dep in config["project"]["optional-dependencies"]["test"]
    )


def test_a_hanging_test_fails_alone_and_the_run_goes_on(tmp_path: Path) -> None:
    """pytest-timeout, as the suite's config sets it up: the hang is one failure, the test
    after it still runs."""
    (tmp_path / "test_hang.py").write_text(
        "import time\n\n"
        "def test_hangs():\n    time.sleep(600)\n\n"
        "def test_after():\n    assert True\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2",
         str(tmp_path / "test_hang.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "Timeout" in done.stdout and "1 failed, 1 passed" in done.stdout, done.stdout


# --- Output that keeps its data -------------------------------------------------------------

TITLE = "Café ☕ 𝄞 日本 — “ok”"
"""Latin-1, cp1252's quotes and dash, the BMP beyond them, and an astral character."""


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252", "utf-8"])
def test_json_is_exact_whatever_the_stream_encoding(tmp_path: Path, encoding: str) -> None:
    routine = tmp_path / "r.toml"
    routine.write_text(
        f'title = "{TITLE}"\n[[technique]]\ntitle = "{TITLE}"\nsteps = [{{ say = "{TITLE}" }}]\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "voiceguide", "show", str(routine), "--json", "--estimate"],
        env={**os.environ, "PYTHONIOENCODING": encoding},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout.decode(encoding))
    assert data["title"] == TITLE
    assert TITLE in [e.get("text") for e in data["events"]]


# --- Answers that are true ------------------------------------------------------------------


def read_only_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`voiceguide ARGS` with `folder` unwritable: a read-only bind mount in a mount namespace
    of its own when we are root (who writes anywhere), else the folder's mode."""
    command = [sys.executable, "-m", "voiceguide", *args]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare: no way to make a folder unwritable")
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, str(folder), *command]
    else:
        folder.chmod(0o555)
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    finally:
        folder.chmod(0o755)


def test_cache_clear_on_an_unwritable_cache_is_an_error_not_a_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voiceguide.cache import ClipCache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # not the suite's shared clips

    clips = ClipCache().directory
    clips.mkdir(parents=True, exist_ok=True)
    for name in ("a", "b", "c"):
        (clips / f"{name}.wav").write_bytes(b"RIFF")
    done = read_only_run(clips, "cache", "clear")
    if done.returncode == 0 and "removed 3" in done.stdout:
        pytest.skip("this system cannot make a folder unwritable")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: cannot clear {clips}: 3 clip(s) could not be removed")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert len(list(clips.glob("*.wav"))) == 3
    cleared = subprocess.run(
        [sys.executable, "-m", "voiceguide", "cache", "clear"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert cleared.stdout == f"removed 3 clip(s) from {clips}\n"
    assert list(clips.glob("*.wav")) == []


# --- One answer from every command ----------------------------------------------------------


def test_times_never_show_sixty_seconds() -> None:
    from voiceguide.cli.app import _clock

    for ms in range(0, 2 * 3_600_000, 7):
        minutes, seconds = _clock(ms).split(":")
        assert float(seconds) < 60, (ms, _clock(ms))
        assert abs(int(minutes) * 60_000 + float(seconds) * 1000 - ms) <= 50, (ms, _clock(ms))


def test_show_with_real_clips_never_prints_sixty_seconds(run) -> None:
    result = run("show", "floor", "--engine", "espeak")
    assert result.status == 0, result.err
    stamps = [line.split()[0] for line in result.out.splitlines()[1:] if line.strip()]
    assert stamps and all(float(stamp.split(":")[1]) < 60 for stamp in stamps), stamps


def test_every_command_gives_the_same_length(run, tmp_path: Path) -> None:
    """Estimates (list, check, show --estimate) agree and say they are estimates; what is
    made (show, export) agrees with itself and with the file ffprobe reads."""
    listed = next(line for line in run("list").out.splitlines() if " desk-break " in line)
    estimate = listed.split()[1]
    assert estimate.startswith("~")
    assert run("show", "desk-break", "--estimate").out.splitlines()[0].endswith(f"({estimate})")
    assert run("check", "desk-break").out == f"desk-break: ok, {estimate}\n"
    shown = run("show", "desk-break", "--engine", "espeak").out.splitlines()[0]
    real = shown.rpartition("(")[2].rstrip(")")
    assert not real.startswith("~")
    audio = tmp_path / "d.wav"
    exported = run("export", "desk-break", "--engine", "espeak", "-o", str(audio))
    assert exported.out == f"wrote {audio} ({real})\n"
    probe = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    probed = subprocess.run(
        [*probe, str(audio)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = round(float(probed.stdout))
    assert real == f"{seconds // 60}:{seconds % 60:02d}"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("estimated", "total"), [(True, "~16:41"), (False, "16:59")])
def test_the_play_status_shows_the_same_length(estimated: bool, total: str) -> None:
    from voiceguide.player.status import Status
    from voiceguide.terminal import StatusPrinter

    out = Tty()
    ms = 1_001_000 if estimated else 1_018_600  # 16:41.0, and 16:58.6 (show rounds: 16:59)
    StatusPrinter(out)(Status("Self-hug", "hold", 5, 65_400, ms, False, estimated))
    assert f"1:05/{total}  Self-hug" in out.getvalue()


def test_a_voice_another_engine_has_is_pointed_to(run) -> None:
    result = run("show", "upper-back", "--voice", "en-gb", "--estimate")
    assert result.status == 2
    assert "unknown voice 'en-gb' of the natural engine" in result.err
    assert "the espeak engine has it (gmw/en): add --engine espeak" in result.err
    assert (
        run("show", "upper-back", "--voice", "en-gb", "--engine", "espeak", "--estimate").status
        == 0
    )


@pytest.mark.parametrize("typed", ["hart", "Hearts", "heat"])
def test_a_misspelled_voice_suggests_the_natural_one(run, typed: str) -> None:
    result = run("show", "upper-back", "--voice", typed, "--estimate")
    assert result.status == 2 and "'heart' (--engine natural)" in result.err, result.err


def test_a_voice_of_another_language_is_warned_about_once(run) -> None:
    """Once a command, however often the routine is compiled; and each command says it, even
    two in one process (a warning is once a run, not once a process)."""
    for _ in range(2):
        result = run("show", "desk-break", "--voice", "de", "--estimate")
        assert result.status == 0, result.err
        (line,) = [line for line in result.err.splitlines() if line.startswith("warning:")]
        assert "voice 'German' (de) reads voiceguide's own words, which are English" in line
    english = run("show", "desk-break", "--voice", "en-gb", "--engine", "espeak", "--estimate")
    assert english.err == ""


PACES = ["0.5", "1", "2"]
RATES = ["60", "150", "400"]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("pace", PACES)
def test_built_ins_compile_clean_at_every_rate_and_pace(run, rate: str, pace: str) -> None:
    """No warning a user cannot act on, and no cue under a hold's end bell, for every
    built-in routine and technique at the ends of the ranges the options allow."""
    from voiceguide.catalog import builtin_routines, builtin_techniques

    names = [*builtin_routines(), *builtin_techniques()]
    checked = run("check", *names, "--rate", rate, "--pace", pace)
    assert checked.status == 0 and checked.err == "", checked.err
    for name in names:
        shown = run("show", name, "--json", "--estimate", "--rate", rate, "--pace", pace)
        events = json.loads(shown.out)["events"]
        bells = [e for e in events if e["kind"] == "chime" and e["name"] == "hold-end"]
        speech = [e for e in events if e["kind"] == "speech"]
        for bell in bells:
            under = [
                e["text"]
                for e in speech
                if e["start"] < bell["start"] + bell["duration"]
                and bell["start"] < e["start"] + e["duration"]
            ]
            assert not under, (name, bell["start"], under)


def test_scripts_run_takes_an_options_value_for_what_it_is() -> None:
    def exported(*args: str) -> str:
        done = subprocess.run(
            [str(REPO / "scripts" / "run"), *args],
            env={**os.environ, "VOICEGUIDE_RUN_DRY": "1"},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return Path(done.stdout.split()[3]).name

    assert exported("--engine", "espeak") == "upper-back.mp3"
    assert exported("--rate", "130", "desk-break") == "desk-break.mp3"
    assert exported("--engine=espeak", "floor") == "floor.mp3"
    assert exported("--mono", "--voice", "en-gb", "floor") == "floor.mp3"


def test_scripts_run_knows_every_option_of_play_that_takes_a_value() -> None:
    import click

    from voiceguide.cli import cli

    play = cli.commands["play"]
    taking = {
        name
        for p in play.params
        if isinstance(p, click.Option) and not p.is_flag and not p.count
        for name in p.opts
        if name.startswith("--")
    }
    script = (REPO / "scripts" / "run").read_text(encoding="utf-8")
    listed = set(script.split('takes_value="')[1].split('"')[0].split())
    assert taking <= listed, taking - listed
