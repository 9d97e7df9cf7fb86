"""Every file the program writes is written one way (`files.replacing`), through the real CLI:
an export, a transcript, a chart, a sound and the config each write through a symlink, keep a
replaced file's mode, refuse a read-only file unless forced, take names up to the longest the
file system allows, and leave every file that is not one of their own temporary files."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from voiceguide import cli, screening
from voiceguide.config import config_path

from .conftest import ROUTINES, decode

SHORT = str(ROUTINES / "short.toml")
pytestmark = pytest.mark.speech


def _export(t: Path) -> tuple[str, ...]:
    return ("export", SHORT, "-o", str(t))


def _transcript(t: Path) -> tuple[str, ...]:
    audio = t.parent.parent / "audio.wav"  # out of the folder looked at
    return ("export", SHORT, "-o", str(audio), "--transcript", str(t))


def _chart(t: Path) -> tuple[str, ...]:
    return ("show", SHORT, "--estimate", "--chart", str(t))


def _sound(t: Path) -> tuple[str, ...]:
    return ("sounds", "hold-end", "-o", str(t))


def _is_audio(t: Path) -> bool:
    return len(decode(t)) > 0


WRITERS: dict[str, tuple[str, Callable[[Path], tuple[str, ...]], Callable[[Path], bool]]] = {
    "export": (".mp3", _export, _is_audio),
    "transcript": (".srt", _transcript, lambda t: t.read_text(encoding="utf-8").startswith("1\n")),
    "chart": (".png", _chart, lambda t: t.read_bytes()[:4] == b"\x89PNG"),
    "chart-svg": (".svg", _chart, lambda t: b"<svg" in t.read_bytes()[:1000]),
    "sound": (".flac", _sound, _is_audio),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("kind", WRITERS)
def test_a_replaced_file_keeps_its_mode_and_a_symlink_is_written_through(
    run, folder: Path, kind: str
) -> None:
    suffix, args, written = WRITERS[kind]
    real_dir = folder / "real"
    real_dir.mkdir()
    real = real_dir / f"mine{suffix}"
    real.write_bytes(b"the old file")
    real.chmod(0o600)
    link = folder / f"link{suffix}"
    link.symlink_to(real)
    result = run(*args(link))
    assert result.status == 0, result.err
    assert link.is_symlink(), "the link is still a link"
    assert written(real) and stat.S_IMODE(real.stat().st_mode) == 0o600
    assert names(real_dir) == [real.name], "no leftovers beside the target"


@pytest.mark.parametrize("kind", WRITERS)
def test_a_read_only_file_is_refused_unless_forced(run, folder: Path, kind: str) -> None:
    suffix, args, written = WRITERS[kind]
    target = folder / f"keep{suffix}"
    target.write_bytes(b"a file I protected")
    target.chmod(0o444)
    result = run(*args(target))
    assert result.status == 2
    assert result.err == (
        f"error: {target}: the file is read-only; to replace it anyway (it stays read-only), "
        "use --force\n"
    )
    assert target.read_bytes() == b"a file I protected"
    result = run(*args(target), "--force")
    assert result.status == 0, result.err
    assert written(target) and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert names(folder) == [target.name]


@pytest.mark.parametrize("kind", WRITERS)
@pytest.mark.parametrize("length", [249, 252, 255])
def test_names_up_to_the_longest_are_written(run, folder: Path, kind: str, length: int) -> None:
    suffix, args, written = WRITERS[kind]
    stem = "é" * ((length - len(suffix)) // 2)
    target = folder / (stem + "a" * (length - len(suffix) - 2 * len(stem)) + suffix)
    assert len(os.fsencode(target.name)) == length
    result = run(*args(target))
    assert result.status == 0, result.err
    assert written(target) and names(folder) == [target.name]


@pytest.mark.parametrize("kind", WRITERS)
def test_only_our_own_dead_temporary_files_are_swept(run, folder: Path, kind: str) -> None:
    suffix, args, written = WRITERS[kind]
    target = folder / f"out{suffix}"
    stale = folder / f".out{suffix}.{dead_pid()}.0123abcd.part"  # ours, its writer gone
    stale.write_bytes(b"left by a killed process")
    users = [folder / f".out{suffix}.part", folder / f".out{suffix}.12.part", folder / "x.part"]
    for path in users:
        path.write_text("the user's own")
    result = run(*args(target))
    assert result.status == 0, result.err
    assert written(target)
    assert names(folder) == sorted([target.name, *(p.name for p in users)])


# --- The config, written when the safety questions are answered ----------------------------------


@pytest.fixture
def screen(run, monkeypatch: pytest.MonkeyPatch) -> Callable[[], object]:
    """`voiceguide screen` on a terminal, every question answered no."""
    monkeypatch.setattr(cli.session, "_interactive", lambda: True)

    def answer() -> object:
        monkeypatch.setattr("sys.stdin", io.StringIO("n\n" * len(screening.QUESTIONS)))
        return run("screen")

    return answer


def test_the_config_is_written_through_its_symlink_keeping_its_mode(screen, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "voiceguide.toml"
    real.parent.mkdir()
    real.write_text("rate = 130\n")
    real.chmod(0o600)
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().symlink_to(real)
    (config_path().parent / f".{config_path().name}.part").write_text("the user's own")
    result = screen()
    assert result.status == 0, result.err
    assert config_path().is_symlink()
    assert real.read_text().startswith("rate = 130\nscreened = true\n")
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert names(real.parent) == ["voiceguide.toml"]
    assert f".{config_path().name}.part" in names(config_path().parent)


def test_a_read_only_config_is_left_as_it_is(screen) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("rate = 130\n")
    config_path().chmod(0o444)
    result = screen()
    assert "read-only" in result.err and "Traceback" not in result.err
    assert config_path().read_text() == "rate = 130\n"
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o444
    assert names(config_path().parent) == [config_path().name]
