"""Beds and chimes that other programs write: any WAV libsndfile reads (WAVE_FORMAT_EXTENSIBLE,
floats, 8- to 32-bit integers) within the same limits; a bed too short to loop says so; a bed
typed on the command line is taken wherever it is, while a routine's and the config's stay in
their folders; a 192 kHz bed is resampled as a stream. Through the real CLI, the exports read
back by ffmpeg."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voiceguide.clip import SAMPLE_RATE
from voiceguide.config import config_path

from .conftest import ROUTINES, decode
from .memory_probe import watch

SHORT = str(ROUTINES / "short.toml")
TONE_HZ = 440
pytestmark = pytest.mark.speech

KINDS = [  # (container, subtype, channels): what editors, DAWs and converters write
    ("WAVEX", "PCM_16", 2),
    ("WAV", "FLOAT", 1),
    ("WAV", "FLOAT", 2),
    ("WAVEX", "FLOAT", 2),
    ("WAV", "DOUBLE", 1),
    ("WAV", "PCM_24", 2),
    ("WAV", "PCM_32", 1),
    ("WAV", "PCM_U8", 1),
]


def tone(path: Path, seconds: float, rate: int = 48000, kind=("WAV", "PCM_16", 1)) -> Path:
    container, subtype, channels = kind
    t = np.arange(round(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * TONE_HZ * t)
    sf.write(path, np.repeat(x[:, None], channels, axis=1), rate, subtype, format=container)
    return path


def quiet_stretch(plain: np.ndarray) -> slice:
    """The longest stretch (at most 5 s) where the export without a bed is all zeros: a hold."""
    silent = np.concatenate([[False], (plain == 0).all(axis=1), [False]])
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    start = int(starts[longest])
    return slice(start, min(int(ends[longest]), start + 5 * SAMPLE_RATE))


def bed_heard(audio: np.ndarray, plain: np.ndarray) -> bool:
    """In the quiet of a hold, the bed's tone: audible, and the strongest frequency there."""
    quiet = audio[quiet_stretch(plain)].astype(np.float64).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(quiet))
    strongest = np.fft.rfftfreq(len(quiet), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))]
    return (
        len(quiet) > SAMPLE_RATE
        and np.sqrt(np.mean(quiet**2)) > 30
        and (abs(strongest - TONE_HZ) < 5)
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The same export without a bed."""
    out = tmp_path_factory.mktemp("plain") / "plain.wav"
    assert (
        subprocess.run(_cli("export", SHORT, "-o", str(out), "--engine", "espeak")).returncode == 0
    )
    return decode(out)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "voiceguide", *args]


@pytest.mark.parametrize("kind", KINDS, ids=["-".join(map(str, k)) for k in KINDS])
def test_a_bed_other_programs_write_is_heard(run, tmp_path: Path, plain: np.ndarray, kind) -> None:
    bed = tone(tmp_path / "bed.wav", 3, kind=kind)
    out = tmp_path / "out.wav"
    result = run("export", SHORT, "-o", str(out), "--engine", "espeak", "--ambience", str(bed))
    assert result.status == 0, result.err
    assert bed_heard(decode(out), plain)


@pytest.mark.parametrize("kind", KINDS, ids=["-".join(map(str, k)) for k in KINDS])
def test_a_chime_other_programs_write_is_read(run, routine_file, kind) -> None:
    routine = routine_file(
        'title = "Bell"\n[[technique]]\ntitle = "Ring"\n'
        'steps = [{ say = "Listen." }, { chime = "bell.wav" }]\n'
    )
    tone(routine.parent / "bell.wav", 0.4, rate=44100, kind=kind)
    result = run("show", str(routine), "--estimate")
    assert result.status == 0, result.err
    assert "bell.wav" in result.out


@pytest.mark.parametrize(
    ("seconds", "rate", "kind", "message"),
    [
        (61, 8000, ("WAV", "FLOAT", 1), "must last from a moment to 60 s"),
        (1, 4000, ("WAVEX", "PCM_16", 2), "a sample rate of 4000 Hz; expected 8000-192000 Hz"),
        (1, 8000, ("WAV", "FLOAT", 4), "expected mono or stereo, got 4 channels"),
    ],
)
def test_the_same_limits_hold_whatever_the_format(
    run, tmp_path: Path, seconds: float, rate: int, kind, message: str
) -> None:
    bed = tone(tmp_path / "bed.wav", seconds, rate, kind)
    result = run("export", SHORT, "-o", str(tmp_path / "o.wav"), "--ambience", str(bed))
    assert result.status == 2 and result.err.count("\n") == 1
    assert message in result.err and "Traceback" not in result.err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("frames", [1, 480, 47_000])
def test_a_loud_bed_too_short_to_loop_says_so(run, tmp_path: Path, frames: int) -> None:
    bed = tmp_path / "blip.wav"
    sf.write(bed, np.full(frames, 0.5), 48000, "FLOAT")
    result = run("export", SHORT, "-o", str(tmp_path / "o.wav"), "--ambience", str(bed))
    assert result.status == 2 and result.err.count("\n") == 1
    found = re.search(
        r"is too short to loop \((\d+) ms\); a bed must last at least 1 s", result.err
    )
    assert found, result.err
    assert abs(int(found[1]) - frames * 1000 / 48000) <= 2
    assert "silent" not in result.err


def test_a_silent_bed_is_called_silent(run, tmp_path: Path) -> None:
    bed = tmp_path / "quiet.wav"
    sf.write(bed, np.zeros(48000 * 3), 48000, "PCM_16")
    result = run("export", SHORT, "-o", str(tmp_path / "o.wav"), "--ambience", str(bed))
    assert result.status == 2 and "the bed is silent" in result.err


def test_a_bed_typed_on_the_command_line_is_taken_wherever_it_is(
    run, tmp_path: Path, plain: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    music = tmp_path / "home" / "Music"
    music.mkdir(parents=True)
    tone(music / "rain.wav", 2, kind=("WAVEX", "PCM_16", 2))
    out = tmp_path / "out.wav"
    result = run("export", SHORT, "-o", str(out), "--ambience", "~/Music/rain.wav")
    assert result.status == 0, result.err
    assert bed_heard(decode(out), plain)
    monkeypatch.chdir(music)
    result = run("export", SHORT, "-o", str(out), "--ambience", "rain.wav", "--force")
    assert result.status == 0, result.err


def test_a_routines_and_the_configs_bed_stay_in_their_folders(run, tmp_path: Path) -> None:
    outside = tone(tmp_path / "rain.wav", 2)
    folder = tmp_path / "routines"
    folder.mkdir()
    routine = folder / "r.toml"
    routine.write_text('title = "T"\nambience = "../rain.wav"\n[[technique]]\nuse = "self-hug"\n')
    result = run("check", str(routine))
    assert result.status == 2 and "must be a file inside the routine's folder" in result.err
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'ambience = "{outside}"\n')
    result = run("export", SHORT, "-o", str(tmp_path / "o.wav"))
    assert result.status == 2 and "must be a .wav file inside" in result.err


def test_a_192_khz_bed_is_resampled_as_a_stream(tmp_path: Path) -> None:
    """A minute of 192 kHz stereo took an export to 363 MB read whole; streamed, the export
    stays near its size with a shipped bed (71 MB measured), the speech workers included."""
    bed = tone(tmp_path / "bed.wav", 60, 192_000, ("WAV", "PCM_16", 2))
    out = tmp_path / "out.flac"
    command = _cli("export", SHORT, "-o", str(out), "--engine", "espeak", "--ambience", str(bed))
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    peak_mb = watch(proc)
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert peak_mb < 130, f"{peak_mb:.0f} MB"
    assert len(decode(out)) > 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_float_bed_or_chime_with_samples_that_are_not_numbers_is_one_line(
    run, routine_file, tmp_path: Path, bad: float
) -> None:
    x = 0.3 * np.sin(np.arange(48000 * 2) / 9)
    x[4800] = bad
    bed = tmp_path / "bad.wav"
    sf.write(bed, x, 48000, "FLOAT")
    result = run("export", SHORT, "-o", str(tmp_path / "o.wav"), "--ambience", str(bed))
    assert result.status == 2 and result.err.count("\n") == 1
    assert "holds samples that are not numbers (NaN or infinity)" in result.err
    routine = routine_file(
        'title = "Bell"\n[[technique]]\ntitle = "Ring"\nsteps = [{ chime = "bell.wav" }]\n'
    )
    sf.write(routine.parent / "bell.wav", x[:9600], 48000, "DOUBLE")
    result = run("check", str(routine))
    assert result.status == 2 and "holds samples that are not numbers" in result.err


def test_a_chime_of_one_sample_plays(run, routine_file, tmp_path: Path) -> None:
    routine = routine_file(
        'title = "Bell"\n[[technique]]\ntitle = "Ring"\n'
        'steps = [{ say = "Listen." }, { chime = "tick.wav" }]\n'
    )
    sf.write(routine.parent / "tick.wav", np.array([0.5]), 48000, "FLOAT")
    assert run("show", str(routine), "--estimate").status == 0
    out = tmp_path / "tick.flac"
    result = run("export", str(routine), "-o", str(out), "--engine", "espeak")
    assert result.status == 0, result.err
    assert len(decode(out)) > 0
