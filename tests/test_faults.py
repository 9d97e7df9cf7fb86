"""Faults, one test each: the engine missing, the disk full, Ctrl-C and SIGTERM, a damaged
cache, two exports at once, an unwritable cache, a cue that crashes espeak-ng. Nothing
half-written is ever left, and nothing already there is lost.

Most run the real CLI in a subprocess (`python -m voiceguide` from this source tree), in a
session of its own, so every process it starts can be found afterwards.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.cache import _decode
from voiceguide.catalog import read_routine
from voiceguide.clip import SAMPLE_RATE
from voiceguide.compiler import cue_texts
from voiceguide.timeline import ms_to_samples

from .conftest import ROUTINES, decode

SHORT = ROUTINES / "short.toml"
SOURCE = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and rlimits")

NO_ESPEAK = """
import ctypes, sys

class NoEspeak(ctypes.CDLL):
    def __init__(self, name, *args, **kwargs):
        if name and "espeak" in str(name):
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        super().__init__(name, *args, **kwargs)

ctypes.CDLL = NoEspeak
ctypes.cdll = ctypes.LibraryLoader(NoEspeak)
from voiceguide.cli import main
main(sys.argv[1:])
"""
"""The CLI as if libespeak-ng were not installed: every dlopen of it fails."""


# --- Helpers --------------------------------------------------------------------------------


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This source tree, a cache, config and temporary folder of the test's own."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(SOURCE),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TMPDIR=str(tmp_path / "tmp"),
    )
    env.update(extra)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def start(
    args: list[str], env: dict[str, str], cwd: Path, **popen: object
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voiceguide", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers are findable by it
        **popen,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"voiceguide hung; stderr: {err[-2000:]}")
    return process.returncode, out, err


def voiceguide(
    args: list[str], env: dict[str, str], cwd: Path, **popen: object
) -> tuple[int, str, str]:
    process = start(args, env, cwd, **popen)
    result = finish(process)
    assert_no_processes_left(process.pid)
    return result


def group_members(group: int) -> list[str]:
    """Live processes in a process group (zombies are dead: they wait only for a reaper)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(f"{stat.parent.name} {fields[0]} {cmdline.decode()[:100]}")
    return members


def assert_no_processes_left(group: int) -> None:
    """No speech worker (or anything else the CLI started) outlives it, give or take a moment."""
    deadline = time.monotonic() + 5
    while (left := group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running: {left}"


def assert_cache_sound(directory: Path) -> list[Path]:
    """Every entry whole and valid, and no temporary file; returns the entries."""
    if not directory.exists():
        return []
    files = sorted(directory.iterdir())
    assert not [f.name for f in files if f.name.startswith(".")], "temporary files left"
    for entry in files:
        assert entry.suffix == ".wav", entry
        _decode(entry.read_bytes())  # raises on a truncated or corrupted entry
    return files


def assert_no_scratch_left(tmp_path: Path) -> None:
    """The speech workers' scratch folder is gone (PulseAudio's own may stay)."""
    assert not list((tmp_path / "tmp").glob("voiceguide-*"))


def clips(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "voiceguide" / "clips"


def show_duration(env: dict[str, str], cwd: Path, routine: Path) -> int:
    """The timeline's length in ms, as `show --json` says (from the cached clips)."""
    status, out, err = voiceguide(["show", str(routine), "--json"], env, cwd)
    assert status == 0, err
    return round(json.loads(out)["duration"] * 1000)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"voiceguide finished before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"voiceguide never got to {what}")
        time.sleep(0.002)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# --- The engine missing ----------------------------------------------------------------------


def test_missing_espeak_is_one_line_and_another_engine_speaks(
    tmp_path: Path, out_dir: Path
) -> None:
    env = environment(tmp_path)
    target = out_dir / "short.mp3"
    command = ["export", str(SHORT), "-o", str(target), "--engine", "espeak"]
    process = subprocess.run(
        [sys.executable, "-c", NO_ESPEAK, *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    warnings = [line for line in process.stderr.splitlines() if "espeak" in line]
    assert warnings == [
        "warning: speech needs espeak-ng, which is not installed: apt-get install espeak-ng; "
        "the natural engine speaks instead"
    ]
    assert "Traceback" not in process.stderr
    assert [p.name for p in out_dir.iterdir()] == ["short.mp3"]
    # reading and checking routines needs no speech engine
    checked = subprocess.run(
        [sys.executable, "-c", NO_ESPEAK, "show", str(SHORT), "--estimate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


# --- The disk full -----------------------------------------------------------------------------


@pytest.mark.speech
@pytest.mark.parametrize("stage", ["synthesis", "encoding", "tagging"])
def test_a_full_disk_leaves_nothing_and_keeps_the_old_files(
    tmp_path: Path, out_dir: Path, stage: str
) -> None:
    """RLIMIT_FSIZE: a write past the limit fails with EFBIG, as on a disk that fills up."""
    target, transcript = out_dir / "short.flac", out_dir / "short.vtt"
    if stage == "synthesis":  # an empty cache; clips are made in memory, the cache is full
        env = environment(tmp_path)
        limit = 100_000
        expected = r"(warning: not caching speech: cannot write to .*: File too large\n)?"
        expected += re.escape(
            f"error: {target}: could not write the export (File too large); nothing was written\n"
        )
    else:  # clips from the shared cache
        env = environment(tmp_path, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
        expected = re.escape(
            f"error: {target}: could not write the export (File too large); nothing was written\n"
        )
        if stage == "encoding":
            limit = 1_000_000  # the FLAC is about 1.7 MB; every clip and cache entry is smaller
        else:  # the audio fits, its tags with the chapters do not
            full = tmp_path / "full.flac"
            status, _, err = voiceguide(["export", str(SHORT), "-o", str(full)], env, tmp_path)
            assert status == 0, err
            limit = full.stat().st_size - 1
    target.write_bytes(b"the old export")
    transcript.write_text("WEBVTT\n\nthe old transcript\n")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["export", str(SHORT), "-o", str(target), "--transcript", str(transcript)]
    status, out, err = voiceguide(args, env, tmp_path, preexec_fn=limit_file_size)
    assert (status, out) == (1, ""), err
    assert re.fullmatch(expected, err), err
    assert sorted(p.name for p in out_dir.iterdir()) == ["short.flac", "short.vtt"]
    assert target.read_bytes() == b"the old export"
    assert transcript.read_text() == "WEBVTT\n\nthe old transcript\n"
    assert_cache_sound(clips(tmp_path))
    assert_no_scratch_left(tmp_path)


# --- Ctrl-C, SIGTERM and SIGHUP ----------------------------------------------------------------


def many_cues(tmp_path: Path) -> Path:
    """A routine with many different cues: synthesis takes long enough to be interrupted."""
    steps = ", ".join(
        f'{{ say = "Cue {n}: let the {part} soften as you breathe out slowly." }}'
        for n, part in enumerate(["neck", "jaw", "shoulders", "ribs", "hands", "back"] * 7)
    )
    path = tmp_path / "many.toml"
    path.write_text(f'title = "Many cues"\n[[technique]]\ntitle = "Soften"\nsteps = [{steps}]\n')
    return path


def long_quiet(tmp_path: Path) -> Path:
    """Half an hour of rests: a few cues, then a long time encoding."""
    path = tmp_path / "long.toml"
    path.write_text(
        'title = "Long quiet"\ntransition = 0\n[[technique]]\ntitle = "Quiet"\n'
        "steps = [{ rest = 600 }, { rest = 600 }, { rest = 600 }]\n"
    )
    return path


def workers_of(tmp_path: Path) -> list[str]:
    """Live speech workers started with this test's environment, wherever they are now (the
    natural and system engines' workers run in a session of their own)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            cmdline = (environ.parent / "cmdline").read_bytes()
            state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
            mine = str(tmp_path).encode() in environ.read_bytes()
            if b"_host.py" in cmdline and mine and state != "Z":
                found.append(cmdline.replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


@pytest.mark.speech
@pytest.mark.parametrize(
    ("stage", "engine"),
    [
        ("startup", "espeak"),
        ("startup", "natural"),
        ("synthesis", "espeak"),
        ("synthesis", "natural"),
        ("encoding", "natural"),
    ],
)
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_an_interrupted_export_leaves_nothing_half_written(
    tmp_path: Path, out_dir: Path, stage: str, engine: str, signum: int
) -> None:
    env = environment(tmp_path)  # an empty cache: everything is synthesized
    target = out_dir / "routine.mp3"
    target.write_bytes(b"the old export")
    routine = long_quiet(tmp_path) if stage == "encoding" else many_cues(tmp_path)
    command = ["export", str(routine), "-o", str(target), "--engine", engine]
    process = start(command, env, tmp_path)
    if stage == "startup":  # a speech worker has just been spawned, and is importing
        wait_for(
            lambda: (
                any("_espeak_worker.py" in p for p in group_members(process.pid))
                or bool(workers_of(tmp_path))
            ),
            process,
            "starting a speech worker",
        )
    elif stage == "synthesis":
        wait_for(lambda: any(clips(tmp_path).glob("*.wav")), process, "its first cached clip")
    else:

        def writing() -> bool:
            sizes = [p.lstat().st_size for p in out_dir.glob(".routine.mp3.*") if p.exists()]
            return any(sizes)

        wait_for(writing, process, "writing audio")
    if signum == signal.SIGTERM:
        os.kill(process.pid, signum)  # `kill PID`
    else:  # Ctrl-C, and a terminal closing, reach the whole foreground group
        os.killpg(process.pid, signum)
    status, out, err = finish(process)
    assert_no_processes_left(process.pid)
    deadline = time.monotonic() + 10
    while workers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert workers_of(tmp_path) == []
    assert status == 130, err  # SIGTERM and SIGHUP take the same way out as Ctrl-C
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert out == ""
    assert [p.name for p in out_dir.iterdir()] == ["routine.mp3"]
    assert target.read_bytes() == b"the old export"
    entries = assert_cache_sound(clips(tmp_path))
    if stage == "encoding":  # sections are written as their cues are made: some, or all
        assert 0 < len(entries) <= len(set(cue_texts(read_routine(routine))))
    assert_no_scratch_left(tmp_path)


# --- A damaged cache ---------------------------------------------------------------------------


@pytest.mark.speech
def test_a_damaged_cache_entry_is_synthesized_again(tmp_path: Path, out_dir: Path) -> None:
    env = environment(tmp_path)
    status, _, err = voiceguide(["export", str(SHORT), "-o", str(out_dir / "a.wav")], env, tmp_path)
    assert status == 0, err
    entries = assert_cache_sound(clips(tmp_path))
    truncated, flipped = entries[3], entries[7]
    truncated.write_bytes(truncated.read_bytes()[:1000])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x10
    flipped.write_bytes(bytes(data))

    target = out_dir / "b.wav"
    status, _, err = voiceguide(["export", str(SHORT), "-o", str(target)], env, tmp_path)
    assert status == 0, err
    assert err == ""
    assert assert_cache_sound(clips(tmp_path)) == entries  # both made again, whole
    audio = decode(target)
    assert len(audio) == ms_to_samples(show_duration(env, tmp_path, SHORT), SAMPLE_RATE)


# --- Two exports at once -----------------------------------------------------------------------


def speech_times(vtt: Path) -> list[tuple[int, int, str]]:
    def ms(stamp: str) -> int:
        h, m, s = stamp.split(":")
        return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)

    cues = []
    for block in vtt.read_text().split("\n\n")[1:]:
        if block.strip():
            times, text = block.strip().split("\n", 1)
            start, end = times.split(" --> ")
            cues.append((ms(start), ms(end), text))
    return cues


@pytest.mark.speech
def test_two_exports_at_once_share_a_cold_cache(tmp_path: Path, out_dir: Path) -> None:
    env = environment(tmp_path)
    runs = [
        start(
            [
                "export",
                str(SHORT),
                "-o",
                str(out_dir / f"{n}.flac"),
                "--transcript",
                str(out_dir / f"{n}.vtt"),
            ],
            env,
            tmp_path,
        )
        for n in (1, 2)
    ]
    for process in runs:
        status, _, err = finish(process)
        assert status == 0, err
        assert err == ""
        assert_no_processes_left(process.pid)
    entries = assert_cache_sound(clips(tmp_path))
    assert len(entries) == len(set(cue_texts(read_routine(SHORT))))
    expected = show_duration(env, tmp_path, SHORT)
    transcripts = [speech_times(out_dir / f"{n}.vtt") for n in (1, 2)]
    assert [t for _, _, t in transcripts[0]] == [t for _, _, t in transcripts[1]]
    for one, two in zip(*transcripts, strict=True):  # the same cues at about the same times
        assert abs(one[0] - two[0]) < 1000, (one, two)
    for n, cues in zip((1, 2), transcripts, strict=True):
        audio = decode(out_dir / f"{n}.flac")
        # espeak-ng says the same text a few samples differently each time: the same length
        # within a fraction of a percent, not to the sample
        assert abs(len(audio) - ms_to_samples(expected, SAMPLE_RATE)) < 0.005 * len(audio)
        for start_ms, end_ms, text in cues:  # each export's speech is where its transcript says
            a, b = ms_to_samples(start_ms, SAMPLE_RATE), ms_to_samples(end_ms, SAMPLE_RATE)
            assert np.abs(audio[a:b].astype(np.int32)).max() > 1000, (n, text)
    assert sorted(p.name for p in out_dir.iterdir()) == ["1.flac", "1.vtt", "2.flac", "2.vtt"]


# --- An unwritable cache ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def unwritable(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path, Path]:
    """One export with a file where the cache folder should be and a read-only config."""
    tmp_path = tmp_path_factory.mktemp("unwritable")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be\n")
    config = tmp_path / "config"
    (config / "voiceguide").mkdir(parents=True)
    (config / "voiceguide" / "config.toml").write_text("rate = 170\n")
    for folder in (config / "voiceguide", config):
        folder.chmod(0o555)
    env = environment(tmp_path, XDG_CACHE_HOME=str(blocker), XDG_CONFIG_HOME=str(config))
    target = tmp_path / "short.wav"
    try:
        status, out, err = voiceguide(["export", str(SHORT), "-o", str(target)], env, tmp_path)
    finally:
        for folder in (config, config / "voiceguide"):
            folder.chmod(0o755)
    return status, out, err, target, blocker


@pytest.mark.speech
def test_an_unwritable_cache_still_exports_with_one_warning(unwritable) -> None:
    status, out, err, target, blocker = unwritable
    assert status == 0, err
    assert out.startswith(f"wrote {target} (")
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert f"not caching speech: cannot write to {blocker}/voiceguide/clips: " in lines[0]
    assert len(decode(target)) > 60 * SAMPLE_RATE
    assert blocker.read_text() == "a file where the cache folder should be\n"


@pytest.mark.speech
def test_the_cache_warning_reads_like_every_other_warning(unwritable) -> None:
    _, _, err, _, _ = unwritable
    assert err.startswith("warning: not caching speech: ")


# --- A cue that crashes espeak-ng -------------------------------------------------------------


@pytest.mark.speech
def test_a_cue_that_crashes_espeak_is_one_clear_error(tmp_path: Path, out_dir: Path) -> None:
    """`"s'" * 220` smashes espeak-ng's stack in its worker: one error naming the cue, exit 1."""
    env = environment(tmp_path, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])  # the shared cache
    routine = tmp_path / "crash.toml"
    routine.write_text(
        'title = "Crash"\n[[technique]]\ntitle = "Hostile"\n'
        'steps = [{ say = "Fine." }, { say = "' + "s'" * 220 + '" }]\n'
    )
    target = out_dir / "crash.mp3"
    command = ["export", str(routine), "-o", str(target), "--engine", "espeak"]
    status, out, err = voiceguide(command, env, tmp_path)
    assert status == 1, err
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: speech engine crashed ("), line
    assert line.endswith(' speaking "' + "s'" * 20 + '..."'), line
    assert list(out_dir.iterdir()) == []
    assert_no_scratch_left(tmp_path)
