"""Shared fixtures: the CLI run in-process, routine files written on the fly, and a sound
device that plays nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from voiceguide import api
from voiceguide.cli import main
from voiceguide.clip import SAMPLE_RATE
from voiceguide.speech.natural import PRIVATE

from .audio_device import audio_device as audio_device

os.environ.update(PRIVATE)  # some tests run hibari (onnxruntime) in this very process

if TYPE_CHECKING:
    from voiceguide.speech import Engine

ROUTINES = Path(__file__).parent / "routines"


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `voiceguide ARGS...` in this process and return its exit status and output."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        status = exit_status(*args)
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return run


def exit_status(*args: str) -> int:
    """Run `voiceguide ARGS...` in this process; its exit status."""
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """api.playing with a sound device: a player that plays nothing; records what ran."""
    played: list[str] = []

    class Player:
        quitting = False
        quiet = None  # not listening

        def __init__(self) -> None:
            self.on_control: list[object] = []

        def run(self, *_: object) -> None:
            played.append("run")

    @contextlib.contextmanager
    def playing(routine: str, *_: object, **__: object) -> Iterator[Player]:
        played.append(routine)
        yield Player()

    monkeypatch.setattr(api, "playing", playing)
    return played


@pytest.fixture(scope="module")
def engines() -> Iterator[Callable[[str], Engine]]:
    """Each engine by name, opened on first use with one worker and kept for the module (the
    property-based tests speak many times), closed when the module is done."""
    from voiceguide.speech import open_engine

    opened: dict[str, Engine] = {}

    def engine(name: str) -> Engine:
        if name not in opened:
            opened[name] = open_engine(name, workers=1)
        return opened[name]

    yield engine
    for running in opened.values():
        running.close()


@pytest.fixture
def routine_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a routine file from TOML text (or bytes) and return its path."""

    def write(text: str | bytes, name: str = "routine.toml") -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the whole session away from the user's real cache and config, module-scoped
    fixtures included. The clip cache is shared by every test: clips are slow to make."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.fixture(autouse=True)
def isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets a config and a history of its own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


def channels(path: Path) -> int:
    """How many channels ffprobe finds in the file's audio stream."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=channels", "-of", "csv=p=0", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return int(result.stdout.split()[0])


def decode(path: Path) -> np.ndarray:
    """The audio as ffmpeg (a decoder we did not write) reads it, frames x channels; fails on
    any decode error."""
    count = channels(path)
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ar", str(SAMPLE_RATE), "-"],
        capture_output=True,
        check=True,
    )
    assert result.stderr == b"", result.stderr.decode(errors="replace")
    return np.frombuffer(result.stdout, dtype="<i2").reshape(-1, count)


def probe(path: Path) -> dict:
    """ffprobe's format, streams and chapters of the file, as JSON."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-show_chapters",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return json.loads(out)
