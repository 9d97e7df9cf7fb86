"""Hostile data: a WAV header that lies about its size, FIFOs where files should be, cache
entries that are links to devices. Each is one clear line or a quiet repair, never a
traceback, never a hang (each run has a timeout), never a huge allocation."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.clip import SAMPLE_RATE

from .conftest import Result, decode

REPO = Path(__file__).parent.parent
CHIME = (
    'title = "t"\n[[technique]]\ntitle = "x"\n'
    'steps = [{ say = "Listen." }, { chime = "bell.wav" }]\n'
)


def voiceguide(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process, so that a hang is a failure, not a stuck test run."""
    env = dict(os.environ)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "voiceguide", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def lying_wav(path: Path, rate: int, frames: int, size: int) -> None:
    """A WAV header claiming `frames` 16-bit mono frames at `rate` Hz; the file is `size` bytes
    (sparse: it takes no room on disk)."""
    data = frames * 2
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        2 * rate,
        2,
        16,
        b"data",
        data & 0xFFFFFFFF,
    )
    with open(path, "wb") as f:
        f.write(header + b"\x01\x00" * 100)
        f.truncate(size)


@pytest.mark.parametrize(
    ("rate", "frames", "size", "message"),
    [
        (100_000_000, 800_000_000, 1_600_000_044, "larger than"),  # sparse, 1.6 GB
        (100_000_000, 800_000_000, 10_000, "a sample rate of 100000000 Hz"),
        (22050, 1_000_000, 10_000, "its header claims 1000000 frames"),
    ],
    ids=["sparse-giant", "giant-rate", "short-of-its-header"],
)
def test_a_wav_header_that_lies_is_one_clear_error(
    routine_file: Callable[[str], Path], rate: int, frames: int, size: int, message: str
) -> None:
    routine = routine_file(CHIME)
    lying_wav(routine.parent / "bell.wav", rate, frames, size)
    result = voiceguide("check", str(routine))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: routine.toml: technique 1, step 2, chime: 'bell.wav' ")
    assert message in line


def test_a_routine_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "routine.toml"
    os.mkfifo(fifo)
    for command in ("check", "show"):
        result = voiceguide(command, str(fifo))
        assert result.returncode == 2
        assert (
            result.stderr
            == "error: routine.toml: is not a regular file; a routine is a .toml text file\n"
        )


def test_a_chime_that_is_a_fifo_is_refused_at_once(routine_file: Callable[[str], Path]) -> None:
    routine = routine_file(CHIME)
    os.mkfifo(routine.parent / "bell.wav")
    result = voiceguide("check", str(routine))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: routine.toml: technique 1, step 2, chime: 'bell.wav' is not a sound we can play: "
        "not a regular file"
    ]


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "voiceguide" / "clips").glob("*.wav"))


@pytest.mark.parametrize("hostile", ["link to /dev/zero", "fifo", "link out of the cache"])
def test_a_cache_entry_that_is_not_a_file_is_made_again(
    routine_file: Callable[[str], Path], tmp_path: Path, hostile: str
) -> None:
    routine = routine_file(
        'title = "Hostile"\n[[technique]]\ntitle = "Reach up"\n'
        'steps = [{ say = "A cue of its own." }]\n'
    )
    cache = tmp_path / "cache"
    first = voiceguide("export", str(routine), "-o", str(tmp_path / "a.wav"), cache=cache)
    assert first.returncode == 0, first.stderr
    outside = tmp_path / "outside.wav"
    outside.write_bytes(entries(cache)[0].read_bytes())
    for entry in entries(cache):
        entry.unlink()
        if hostile == "fifo":
            os.mkfifo(entry)
        else:
            entry.symlink_to("/dev/zero" if hostile == "link to /dev/zero" else outside)
    again = voiceguide("export", str(routine), "-o", str(tmp_path / "b.wav"), cache=cache)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    before, after = decode(tmp_path / "a.wav"), decode(tmp_path / "b.wav")
    assert abs(len(after) - len(before)) < SAMPLE_RATE  # spoken again
    assert np.abs(after).max() > 1000
    assert all(p.is_file() and not p.is_symlink() for p in entries(cache)), "made again"
    assert outside.exists()


def test_a_wav_that_tells_the_truth_still_plays(
    run: Callable[..., Result], routine_file: Callable[[str], Path]
) -> None:
    routine = routine_file(CHIME)
    with wave.open(str(routine.parent / "bell.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes((np.sin(np.arange(9600) * 0.2) * 8000).astype("<i2").repeat(2).tobytes())
    result = run("check", str(routine))
    assert result.status == 0, result.err
