"""`voiceguide play` at the command line: the safety questions and a missing sound device."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from voiceguide import api, cli, screening
from voiceguide.config import read_config, remember_all
from voiceguide.errors import AudioDeviceError
from voiceguide.screening import QUESTIONS

from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")
REPO = Path(__file__).parent.parent


@pytest.fixture
def no_device(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """api.playing as it behaves with no sound device; records that it was reached."""
    reached: list[str] = []

    @contextlib.contextmanager
    def playing(routine: str, *_: object, **__: object) -> Iterator[None]:
        reached.append(routine)
        raise AudioDeviceError("no sound device to play on (ALSA: Connection refused)")
        yield

    monkeypatch.setattr(api, "playing", playing)
    return reached


def answer(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    monkeypatch.setattr(cli.session, "_interactive", lambda: True)
    replies = iter(answers)
    monkeypatch.setattr("click.termui.visible_prompt_func", lambda *_: next(replies))


def test_any_yes_explains_why_and_does_not_play(run, monkeypatch, device) -> None:
    answer(monkeypatch, "n", "n", "y", "n", "n", "n")
    result = run("play", SHORT)
    assert result.status == 1
    assert "surgery" in result.out and "physical therapist" in result.out
    assert device == [SHORT], "never played" and "screened" not in read_config()


def test_all_no_is_remembered_and_then_plays(run, monkeypatch, device) -> None:
    answer(monkeypatch, *["n"] * len(QUESTIONS), "")  # and Enter to begin
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert device == [SHORT, "run"]
    assert read_config()["screened"] is True
    monkeypatch.setattr(cli.session, "_interactive", lambda: False)
    assert run("play", SHORT).status == 0 and device == [SHORT, "run", SHORT, "run"]


def test_without_a_terminal_the_questions_need_yes(run, device) -> None:
    result = run("play", SHORT)
    assert result.status == 2
    assert "safety questions" in result.err and "--yes" in result.err
    assert device == [SHORT], "never played"
    assert run("play", SHORT, "--yes").status == 0 and device[-1] == "run"


def test_no_device_needs_no_questions_to_export_instead(run, no_device, tmp_path: Path) -> None:
    result = run("play", SHORT)
    assert result.status == 1 and "voiceguide export" in result.err
    assert "safety questions" not in result.err and no_device == [SHORT]


def test_no_device_is_one_line_suggesting_export(run, no_device) -> None:
    remember_all(screening.clean(screening.today()))
    result = run("play", "floor")
    assert result.status == 1
    assert result.err == (
        "error: no sound device to play on (ALSA: Connection refused); to listen elsewhere, "
        "export it: voiceguide export floor -o FILE.mp3\n"
    )


@pytest.mark.speech
def test_else_export_writes_the_file_and_says_where(run, no_device, tmp_path: Path) -> None:
    target = tmp_path / "short.mp3"
    result = run("play", SHORT, "--yes", "--else-export", str(target))
    assert result.status == 0, result.err
    assert target.exists() and target.with_suffix(".vtt").exists()
    assert str(target) in result.out and "exporting instead" in result.err


def test_else_export_is_full_the_first_time_as_play_would_be(
    run, no_device, tmp_path: Path
) -> None:
    """The config asks for brief, but this routine has never been played: the file a user
    takes elsewhere instead explains everything, as play would have; --detail brief wins."""
    from voiceguide.config import config_path
    from voiceguide.phrases import SAFETY, SAFETY_BRIEF

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('detail = "brief"\n')
    said = {}
    for name, extra in (("first", []), ("brief", ["--detail", "brief"])):
        target = tmp_path / f"{name}.wav"
        result = run(
            "play", SHORT, "--yes", "--engine", "espeak", *extra, "--else-export", str(target)
        )
        assert result.status == 0, result.err
        said[name] = target.with_suffix(".vtt").read_text()
    assert SAFETY[1] in said["first"] and SAFETY_BRIEF not in said["first"]
    assert SAFETY_BRIEF in said["brief"] and SAFETY[1] not in said["brief"]


def test_a_real_missing_device_gives_one_clean_line(tmp_path: Path) -> None:
    """No ALSA noise: the device is a PulseAudio server that is not there."""
    (tmp_path / ".asoundrc").write_text(
        "pcm.!default { type pulse }\nctl.!default { type pulse }\n"
    )
    env = dict(os.environ, HOME=str(tmp_path), PULSE_SERVER="unix:/nonexistent/native")
    result = subprocess.run(
        [sys.executable, "-m", "voiceguide", "play", SHORT, "--yes"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no sound device to play on (ALSA: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "voiceguide export" in result.stderr and result.stdout == ""
