"""Stereo and loudness, checked on exported files through ffmpeg (a decoder and a BS.1770
meter we did not write). The bed has its own tests (test_ambience.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api
from voiceguide.clip import SAMPLE_RATE
from voiceguide.config import config_path
from voiceguide.render import PAN, pan_gains
from voiceguide.timeline import Event, Timeline, ms_to_samples

from .conftest import ROUTINES, channels, decode

pytestmark = pytest.mark.speech
SHORT = str(ROUTINES / "short.toml")
RATE = SAMPLE_RATE


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) as ffmpeg's ebur128 filter reads them."""
    command = ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true"]
    err = subprocess.run(
        [*command, "-f", "null", "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated[1]), float(peak[1])


def span(audio: np.ndarray, event: Event) -> np.ndarray:
    return audio[ms_to_samples(event.start, RATE) : ms_to_samples(event.end, RATE)]


def energy(audio: np.ndarray, event: Event) -> np.ndarray:
    """(left, right) energy over the event."""
    result: np.ndarray = (span(audio, event).astype(np.float64) ** 2).sum(axis=0)
    return result


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, np.ndarray]:
    path = tmp_path_factory.mktemp("stereo") / "short.wav"
    timeline = api.export(SHORT, path, api.Options(engine="espeak"))
    return timeline, decode(path)


def test_a_cue_of_a_side_leans_toward_that_ear(stereo: tuple[Timeline, np.ndarray]) -> None:
    """A constant-power pan of 30%: the near ear gets (cos/sin)^2 = 2.65 times the energy of
    the far one (4.2 dB): clearly one side, never only one ear."""
    timeline, audio = stereo
    assert audio.shape[1] == 2
    left, right = pan_gains(-PAN)
    expected = (left / right) ** 2
    sided = [e for e in timeline.events if e.kind == "speech" and e.side in ("left", "right")]
    assert {e.side for e in sided} == {"left", "right"}
    for e in sided:
        near, far = energy(audio, e) if e.side == "left" else energy(audio, e)[::-1]
        assert near / far == pytest.approx(expected, rel=0.02), e.text
        assert 2.0 < near / far < 4.0  # 3 to 6 dB


def test_the_side_switch_sound_moves_to_the_new_side(stereo: tuple[Timeline, np.ndarray]) -> None:
    """(The opening plays it centred, to explain it.)"""
    timeline, audio = stereo
    (switch,) = [e for e in timeline.events if e.name == "switch-side" and e.side is not None]
    assert switch.side == "left"
    left, right = energy(audio, switch)
    assert left > 2 * right


def test_everything_else_is_centred(stereo: tuple[Timeline, np.ndarray]) -> None:
    timeline, audio = stereo
    centred = [e for e in timeline.events if e.kind in ("speech", "chime") and e.side is None]
    assert len(centred) > 5
    for e in centred:
        sound = span(audio, e)
        assert np.abs(sound).max() > 1000
        assert np.array_equal(sound[:, 0], sound[:, 1]), e


def test_mono_from_the_command_line_or_the_config(run, tmp_path: Path) -> None:
    out = tmp_path / "mono.flac"
    assert run("export", SHORT, "--engine", "espeak", "--mono", "-o", str(out)).status == 0
    assert channels(out) == 1
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("mono = true\n")
    assert run("export", SHORT, "--engine", "espeak", "-o", str(tmp_path / "c.ogg")).status == 0
    assert channels(tmp_path / "c.ogg") == 1
    result = run("export", SHORT, "--engine", "espeak", "--stereo", "-o", str(tmp_path / "s.wav"))
    assert result.status == 0 and channels(tmp_path / "s.wav") == 2
    config_path().write_text('mono = "yes"\n')
    result = run("export", SHORT, "-o", str(tmp_path / "bad.wav"))
    assert result.status == 2
    assert result.err == f"error: {config_path()}: mono: must be true or false, got 'yes'\n"


def test_a_routine_can_keep_every_cue_centred(run, routine_file, tmp_path: Path) -> None:
    text = (
        (ROUTINES / "short.toml")
        .read_text()
        .replace("transition = 1", "transition = 1\npan = false")
    )
    path = routine_file(text)
    out = tmp_path / "centred.wav"
    assert run("export", str(path), "--engine", "espeak", "-o", str(out)).status == 0
    audio = decode(out)
    assert np.abs(audio).max() > 1000 and np.array_equal(audio[:, 0], audio[:, 1])
    result = run("check", str(routine_file(text.replace("pan = false", "pan = 0"))))
    assert result.status == 2 and "pan: must be true or false, got 0" in result.err


@pytest.mark.parametrize(("engine", "suffix"), [("espeak", ".flac"), ("natural", ".mp3")])
def test_an_export_is_at_minus_16_lufs_with_a_true_peak_under_minus_1(
    tmp_path: Path, engine: str, suffix: str
) -> None:
    path = tmp_path / f"desk{suffix}"
    api.export("desk-break", path, api.Options(engine=engine))
    integrated, peak = ebur128(path)
    assert -17.0 <= integrated <= -15.0
    assert peak <= -1.0


def test_loudness_changes_the_target_and_mono_measures_the_same(run, tmp_path: Path) -> None:
    for name, extra in (("quiet.wav", ["--loudness", "-23"]), ("loud.wav", ["--loudness", "-14"])):
        path = tmp_path / name
        result = run("export", "desk-break", "--engine", "espeak", *extra, "-o", str(path))
        assert result.status == 0, result.err
        integrated, peak = ebur128(path)
        assert float(extra[1]) - 1 <= integrated <= float(extra[1]) + 1
        assert peak <= -1.0
    mono = tmp_path / "mono.wav"
    assert run("export", "desk-break", "--engine", "espeak", "--mono", "-o", str(mono)).status == 0
    assert -17.0 <= ebur128(mono)[0] <= -15.0
    assert ebur128(mono)[1] <= -1.0


def test_the_loudest_bed_leaves_the_routines_loudness_as_it_is(run, tmp_path: Path) -> None:
    """At -12 LU against the voice, the bed still sits under BS.1770's relative gate."""
    path = tmp_path / "bed.flac"
    level = ["--ambience", "brown-noise", "--ambience-level", "-12"]
    result = run("export", "desk-break", "--engine", "espeak", *level, "-o", str(path))
    assert result.status == 0, result.err
    integrated, peak = ebur128(path)
    assert -17.0 <= integrated <= -15.0
    assert peak <= -1.0


def test_a_loudness_out_of_range_is_refused(run, tmp_path: Path) -> None:
    result = run("export", "desk-break", "--loudness", "-5", "-o", str(tmp_path / "x.wav"))
    assert result.status == 2
    assert "--loudness" in result.err and "-30" in result.err and "-14" in result.err
    assert not (tmp_path / "x.wav").exists()
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("loudness = -40\n")
    result = run("export", "desk-break", "-o", str(tmp_path / "x.wav"))
    assert result.status == 2
    assert result.err == (
        f"error: {config_path()}: loudness: must be a loudness in LUFS from -30 to -14, got -40\n"
    )
