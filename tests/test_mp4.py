"""M4A and M4B exports read back by ffprobe and ffmpeg: AAC, a chapter per section with its
title, tags, the chart as cover art, and the WAV's length to the sample."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from voiceguide import api
from voiceguide.timeline import Timeline

from .conftest import ROUTINES, probe

SHORT = str(ROUTINES / "short.toml")
ESPEAK = api.Options(engine="espeak")
pytestmark = pytest.mark.speech


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("mp4")
    paths = {suffix: folder / f"short{suffix}" for suffix in (".wav", ".m4a", ".m4b")}
    timelines = {api.export(SHORT, path, ESPEAK) for path in paths.values()}
    assert len(timelines) == 1
    return timelines.pop(), paths


def audio_stream(info: dict) -> dict:
    (stream,) = [s for s in info["streams"] if s["codec_type"] == "audio"]
    return stream


@pytest.mark.parametrize("suffix", [".m4a", ".m4b"])
def test_aac_lasting_the_wav_to_the_sample(exports, suffix: str) -> None:
    _, paths = exports
    wav = audio_stream(probe(paths[".wav"]))
    aac = audio_stream(probe(paths[suffix]))
    assert aac["codec_name"] == "aac"
    assert (aac["sample_rate"], aac["channels"]) == (wav["sample_rate"], wav["channels"])
    # the edit list cuts the encoder's priming and padding: the same count of samples
    assert int(aac["duration_ts"]) == int(wav["duration_ts"])
    assert aac["time_base"] == f"1/{wav['sample_rate']}"


@pytest.mark.parametrize("suffix", [".m4a", ".m4b"])
def test_a_chapter_per_section_with_its_title_and_tags(exports, suffix: str) -> None:
    timeline, paths = exports
    info = probe(paths[suffix])
    chapters = [
        (round(float(c["start_time"]) * 1000), c["tags"]["title"]) for c in info["chapters"]
    ]
    assert chapters == [(s.start, s.title) for s in timeline.sections]
    assert [c[0] for c in chapters] == sorted(c[0] for c in chapters)
    tags = info["format"]["tags"]
    assert (tags["title"], tags["album"], tags["artist"]) == (
        "Short test",
        "Short test",
        "voiceguide",
    )
    assert tags["major_brand"] == {".m4a": "M4A ", ".m4b": "M4B "}[suffix]
    # Apple's players read a QuickTime chapter track: a text track the audio refers to
    assert any(s.get("codec_tag_string") == "text" for s in info["streams"])


def test_the_chart_is_the_cover(exports, tmp_path: Path) -> None:
    _, paths = exports
    info = probe(paths[".m4a"])
    (cover,) = [s for s in info["streams"] if s["disposition"]["attached_pic"]]
    assert cover["codec_name"] == "png"
    assert cover["width"] == cover["height"] >= 1000
    png = tmp_path / "cover.png"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(paths[".m4a"]),
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "image2",
            str(png),
        ],
        check=True,
    )
    import matplotlib.image

    from voiceguide.chart import COLOURS

    pixels = matplotlib.image.imread(png)[:, :, :3]
    colours = {tuple(round(float(v) * 255) for v in p) for p in pixels.reshape(-1, 3)[::7]}
    hold = tuple(int(COLOURS["hold"][i : i + 2], 16) for i in (1, 3, 5))
    assert hold in colours  # the chart's holds are drawn on the cover


def loudness(path: Path) -> tuple[float, float]:
    err = subprocess.run(
        [
            "ffmpeg",
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary)[1])
    return integrated, peak


def test_loudness_rules_hold_after_encoding(exports) -> None:
    _, paths = exports
    wav, aac = loudness(paths[".wav"]), loudness(paths[".m4a"])
    assert aac[0] == pytest.approx(-16, abs=1)
    assert aac[0] == pytest.approx(wav[0], abs=0.3)
    assert aac[1] <= -1


def test_decoded_audio_is_the_wav_with_the_last_frame_padded_in_silence(exports) -> None:
    """ffmpeg honours the edit list's start (the priming) but decodes the last AAC frame
    whole: what follows the WAV's length is the encoder's silent padding."""
    import numpy as np

    from .conftest import decode

    _, paths = exports
    wav, aac = decode(paths[".wav"]).astype(float), decode(paths[".m4a"]).astype(float)
    assert len(wav) <= len(aac) < len(wav) + 1024
    assert np.abs(aac[len(wav) :]).max(initial=0) < 64
    error = np.sqrt(np.mean((aac[: len(wav)] - wav) ** 2)) / np.sqrt(np.mean(wav**2))
    assert error < 0.2  # the same sound, sample-aligned (no priming delay left)


def test_an_unknown_format_names_m4a_and_m4b(run, tmp_path: Path) -> None:
    result = run("export", SHORT, "-o", str(tmp_path / "x.aac"))
    assert result.status == 2
    assert ".m4a, .m4b" in result.err
    assert not list(tmp_path.iterdir())


def test_an_interrupted_m4a_export_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    """Ctrl-C while FFmpeg writes: the old file stays as it was, no temporary file is left."""
    import signal

    from .test_faults import environment, finish, long_quiet, start

    out = tmp_path / "out"
    out.mkdir()
    target = out / "routine.m4b"
    target.write_bytes(b"the old export")
    command = ["export", str(long_quiet(tmp_path)), "-o", str(target), "--engine", "espeak"]
    process = start(command, environment(tmp_path), tmp_path)
    end = time.monotonic() + 60
    while not any(p.lstat().st_size for p in out.glob(".routine.m4b.*")):
        assert process.poll() is None and time.monotonic() < end, "never wrote audio"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)
    status, _, err = finish(process)
    assert status == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert [p.name for p in out.iterdir()] == ["routine.m4b"]
    assert target.read_bytes() == b"the old export"


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: a write past the limit fails with EFBIG, as on a disk that fills up."""
    import resource

    from .test_faults import environment, voiceguide

    target = tmp_path / "short.m4a"
    target.write_bytes(b"the old export")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    env = environment(tmp_path, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    args = ["export", SHORT, "-o", str(target), "--engine", "espeak"]
    status, out, err = voiceguide(args, env, tmp_path, preexec_fn=limit_file_size)
    assert (status, out) == (1, ""), err
    expected = r"(warning: not caching speech: cannot write to .*: File too large\n)?"  # cold
    expected += re.escape(
        f"error: {target}: could not write the export (File too large); nothing was written\n"
    )
    assert re.fullmatch(expected, err), err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".m4a") == ["short.m4a"]
    assert not list(tmp_path.glob(".short.m4a.*"))
    assert target.read_bytes() == b"the old export"
