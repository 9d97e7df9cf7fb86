"""Loudness: exports measured by ffmpeg's ebur128 filter (BS.1770, a meter we did not write)."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api
from voiceguide.loudness import SPEECH_PEAK_DBTP, leveled, limited, lufs, peak_envelope

pytestmark = pytest.mark.speech


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) as ffmpeg measures them."""
    err = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated[1]), float(peak[1])


@pytest.mark.parametrize("engine", ["espeak", "natural"])
def test_an_export_is_at_minus_16_lufs_with_a_true_peak_under_minus_1(tmp_path, engine) -> None:
    path = tmp_path / "desk.flac"
    api.export("desk-break", path, engine_name=engine)
    integrated, peak = ebur128(path)
    assert -17.0 <= integrated <= -15.0
    assert peak <= -1.0


def test_a_bed_leaves_the_loudness_where_it_was(tmp_path) -> None:
    path = tmp_path / "desk.flac"
    api.export("desk-break", path, engine_name="espeak", ambience="brown-noise")
    integrated, peak = ebur128(path)
    assert -17.0 <= integrated <= -15.0
    assert peak <= -1.0


def test_loudness_changes_the_target(tmp_path, run) -> None:
    path = tmp_path / "desk.wav"
    result = run("export", "desk-break", "--engine", "espeak", "--loudness", "-23", "-o", str(path))
    assert result.status == 0, result.err
    integrated, peak = ebur128(path)
    assert -24.0 <= integrated <= -22.0
    assert peak <= -1.0


def test_a_loudness_out_of_range_is_refused(tmp_path, run) -> None:
    result = run("export", "desk-break", "--loudness", "-5", "-o", str(tmp_path / "x.wav"))
    assert result.status == 2
    assert "--loudness" in result.err and "-30" in result.err
    assert not (tmp_path / "x.wav").exists()


def test_the_limiter_holds_the_true_peak_and_leveling_reaches_the_loudness() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(22050) * 0.05).astype(np.float32)
    x[5000:5100] += np.float32(0.9)  # a spike far above the rest
    out = leveled(x, -16.0, SPEECH_PEAK_DBTP)
    assert lufs(out) == pytest.approx(-16.0, abs=0.1)
    assert 20 * np.log10(peak_envelope(out).max()) <= SPEECH_PEAK_DBTP + 0.05
    quiet = (x * np.float32(0.1)).astype(np.float32)
    assert np.array_equal(limited(quiet, -1.0), quiet)  # under the ceiling: untouched
