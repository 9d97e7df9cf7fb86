"""The chimes must be told apart with eyes closed, click-free, and exactly what the script makes."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide import sounds
from voiceguide.clip import SAMPLE_RATE
from voiceguide.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make-sounds"
SOUND_DIR = REPO / "sounds"

Samples = npt.NDArray[np.float64]

EXPECTED_SECONDS = {
    "technique-start": 1.2,
    "hold-start": 0.8,
    "hold-end": 1.0,
    "switch-side": 0.6,
    "routine-end": 2.5,
    "breathe-in": 2.0,
    "breathe-out": 2.0,
    "breathe-hold": 1.5,
}


def samples(name: str) -> Samples:
    return np.frombuffer(sounds.load(name).pcm, dtype="<i2").astype(np.float64)


def dominant_hz(x: Samples) -> float:
    """The strongest frequency, finely resolved by zero-padding a Hann-windowed FFT."""
    n = 1 << 17
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n))
    return float(np.argmax(spectrum)) * SAMPLE_RATE / n


def pitch_contour(x: Samples) -> tuple[float, float]:
    """Dominant frequency of the first and the last third: what the ear hears as start and end."""
    third = len(x) // 3
    return dominant_hz(x[:third]), dominant_hz(x[-third:])


def early_energy(x: Samples) -> float:
    """Share of the energy in the first third: near 1 for a struck bell, lower for a swell."""
    third = len(x) // 3
    return float(np.sum(x[:third] ** 2) / np.sum(x**2))


def semitones(a: float, b: float) -> float:
    return float(abs(12 * np.log2(a / b)))


@pytest.mark.parametrize("name", list(sounds.NAMES))
def test_loads_at_the_render_rate_mono(name: str) -> None:
    clip = sounds.load(name)
    assert clip.sample_rate == SAMPLE_RATE
    with wave.open(str(sounds.sound_dir() / f"{name}.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
    assert sounds.duration_ms(name) == pytest.approx(1000 * EXPECTED_SECONDS[name], abs=1)


@pytest.mark.parametrize("name", list(sounds.NAMES))
def test_no_clipping_and_sensible_level(name: str) -> None:
    peak = np.max(np.abs(samples(name)))
    assert peak < 32767 * 0.9
    peak_dbfs = 20 * np.log10(peak / 32767)
    if name.startswith("breathe-"):
        assert -20 < peak_dbfs < -12, "breath tones sit under speech"
    else:
        assert -7 < peak_dbfs < -5


@pytest.mark.parametrize("name", list(sounds.NAMES))
def test_starts_and_ends_in_silence(name: str) -> None:
    x = samples(name)
    peak = np.max(np.abs(x))
    two_ms = SAMPLE_RATE * 2 // 1000
    assert x[0] == 0 and x[-1] == 0
    assert np.max(np.abs(x[:two_ms])) < 0.3 * peak, "attack too abrupt: it would click"
    assert np.max(np.abs(x[-two_ms:])) < 0.01 * peak, "cut off while still ringing"


def test_every_pair_is_clearly_different() -> None:
    features = {
        name: (pitch_contour(samples(name)), early_energy(samples(name))) for name in sounds.NAMES
    }
    for a, b in itertools.combinations(sounds.NAMES, 2):
        (a_start, a_end), a_early = features[a]
        (b_start, b_end), b_early = features[b]
        pitch_apart = max(semitones(a_start, b_start), semitones(a_end, b_end)) >= 3
        shape_apart = abs(a_early - b_early) >= 0.25
        assert pitch_apart or shape_apart, f"{a} and {b} sound too alike: {features}"


def test_landmark_pitches() -> None:
    assert dominant_hz(samples("hold-start")) == pytest.approx(1320, rel=0.01)
    assert dominant_hz(samples("hold-end")) == pytest.approx(330, rel=0.01)
    start, end = pitch_contour(samples("technique-start"))
    assert end > start, "technique-start rises"
    start, end = pitch_contour(samples("routine-end"))
    assert end < start, "routine-end descends"


def test_breath_pitch_follows_the_breath() -> None:
    in_start, in_end = pitch_contour(samples("breathe-in"))
    out_start, out_end = pitch_contour(samples("breathe-out"))
    assert semitones(in_start, in_end) >= 3 and in_end > in_start
    assert semitones(out_start, out_end) >= 3 and out_end < out_start
    hold_start, hold_end = pitch_contour(samples("breathe-hold"))
    assert semitones(hold_start, hold_end) < 0.5, "breathe-hold is steady"


def test_names_match_the_files() -> None:
    assert {p.stem for p in SOUND_DIR.glob("*.wav")} == set(sounds.NAMES)


def test_files_are_exactly_what_the_script_generates(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], check=True, capture_output=True)
    generated = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert generated == sorted(
        str(p.relative_to(SOUND_DIR)) for p in SOUND_DIR.rglob("*") if p.is_file()
    )
    assert "beds/brown-noise.wav" in generated and "beds/drone.wav" in generated
    for name in generated:
        assert (tmp_path / name).read_bytes() == (SOUND_DIR / name).read_bytes(), (
            f"sounds/{name} is stale: rerun scripts/make-sounds"
        )
    readme = (SOUND_DIR / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("Generated by scripts/make-sounds")
    assert all(f"`{name}`" in readme for name in sounds.NAMES)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
@pytest.mark.parametrize("name", list(sounds.NAMES))
def test_ffprobe_agrees(name: str) -> None:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels",
            "-of",
            "json",
            str(SOUND_DIR / f"{name}.wav"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (stream,) = json.loads(out)["streams"]
    assert stream == {"codec_name": "pcm_s16le", "sample_rate": str(SAMPLE_RATE), "channels": 1}


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UsageError, match="did you mean hold-start"):
        sounds.load("hold-strat")
    with pytest.raises(UsageError, match="known: technique-start"):
        sounds.duration_ms("gong")


def test_load_is_cached() -> None:
    assert sounds.load("hold-end") is sounds.load("hold-end")
