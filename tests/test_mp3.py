"""MP3 exports, read back by ffprobe and ffmpeg: the bit rate, the rate, the exact length, and
stretches of sound encoded apart decoding as one encoder's stream would."""

import io
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import lameenc
import numpy as np
import pytest

from voiceguide import api, mp3
from voiceguide.clip import SAMPLE_RATE
from voiceguide.mp3 import AHEAD, BITRATES, FRAME, QUALITY, QUIET_FRAMES, Mp3Writer
from voiceguide.render import Mix, render

from .conftest import ROUTINES, decode, probe

SHORT = str(ROUTINES / "short.toml")


def ffmpeg_decode(mp3: bytes, channels: int) -> np.ndarray:
    """From a file, as a player reads it (from a pipe, ffmpeg skips the encoder delay but
    keeps the padding)."""
    with tempfile.NamedTemporaryFile(suffix=".mp3") as file:
        file.write(mp3)
        file.flush()
        result = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", file.name, "-f", "s16le", "-"],
            capture_output=True,
            check=True,
        )
    assert result.stderr == b"", result.stderr.decode(errors="replace")
    return np.frombuffer(result.stdout, dtype="<i2").reshape(-1, channels)


def written(x: np.ndarray, block: int = 5000) -> bytes:
    out = io.BytesIO()
    channels = x.shape[1]
    with Mp3Writer(out, SAMPLE_RATE, channels) as writer:
        for i in range(0, len(x), block):
            writer.write(x[i : i + block])
        writer.close()
    return out.getvalue()


def one_encoder(x: np.ndarray) -> np.ndarray:
    """What LAME makes of `x` in one go, decoded and with its delay of 1105 samples taken off."""
    lame = lameenc.Encoder()
    lame.set_channels(x.shape[1])
    lame.set_in_sample_rate(SAMPLE_RATE)
    lame.set_bit_rate(BITRATES[x.shape[1]])
    lame.set_quality(QUALITY)
    lame.silence()
    mp3 = bytes(lame.encode(x.astype("<i2").tobytes()) + lame.flush())
    return ffmpeg_decode(mp3, x.shape[1])[1105 : 1105 + len(x)]


def snr(reference: np.ndarray, decoded: np.ndarray) -> float:
    a = reference.astype(float)
    return float(10 * np.log10((a**2).sum() / ((a - decoded) ** 2).sum()))


def bursts(channels: int, seed: int = 7) -> np.ndarray:
    """Tones and noise at offsets off the frame grid, with quiet between them both shorter
    and longer than what ends a stretch, one burst at the very start and one at the end."""
    rng = np.random.default_rng(seed)
    x = np.zeros((SAMPLE_RATE * 6, channels))
    t = np.arange(SAMPLE_RATE // 3) / SAMPLE_RATE
    for start in (0, 9_001, 13_337, 40_123, 47_000, 90_555, len(x) - len(t)):
        tone = np.sin(2 * np.pi * rng.uniform(200, 3000) * t) + 0.3 * rng.standard_normal(len(t))
        x[start : start + len(t)] += (8000 * tone * np.hanning(len(t)))[:, None]
    if channels == 2:
        x[:, 1] *= 0.5  # the channels differ
    return np.round(x).astype(np.int16)


@pytest.mark.parametrize("channels", [1, 2])
def test_stretches_encoded_apart_decode_like_one_encoders_stream(channels: int) -> None:
    x = bursts(channels)
    decoded = ffmpeg_decode(written(x), channels)
    assert decoded.shape == x.shape  # the LAME tag's delay and padding: exactly the samples
    assert snr(x, decoded) == pytest.approx(snr(x, one_encoder(x)), abs=0.5)
    assert snr(x, decoded) > 10  # tones in noise, at a spoken-word rate
    quiet = slice(60_000, 88_000)  # digital silence in, digital silence out
    assert not x[quiet].any() and not decoded[quiet].any()


@pytest.mark.parametrize(
    "x",
    [
        np.zeros((SAMPLE_RATE, 2), dtype=np.int16),  # nothing but silence
        np.full((100, 2), 3000, dtype=np.int16),  # shorter than one frame
        (np.sin(np.arange(SAMPLE_RATE * 3) / 3) * 9000).astype(np.int16)[:, None],  # no quiet
    ],
    ids=["silence", "a moment", "no-quiet"],
)
def test_any_length_and_any_sound_decodes_to_its_own_length(x: np.ndarray) -> None:
    decoded = ffmpeg_decode(written(x, block=777), x.shape[1])
    assert decoded.shape == x.shape
    if x.any() and len(x) > SAMPLE_RATE:
        assert snr(x, decoded) > 15


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    folder = tmp_path_factory.mktemp("mp3")
    prepared = api.prepare(SHORT)
    out = {}
    for name, mono in (("stereo", False), ("mono", True)):
        path = folder / f"{name}.mp3"
        api.export(SHORT, path, api.Options(mono=mono), transcript=folder / f"{name}.vtt")
        reference = render(prepared.timeline, prepared.clips, mix=Mix(stereo=not mono))
        out[name] = (path, reference)
    return out


@pytest.mark.speech
@pytest.mark.parametrize(("name", "kbps"), [("mono", 64), ("stereo", 96)])
def test_an_export_is_constant_bit_rate_at_the_render_rate_with_its_chapters(
    exported, name: str, kbps: int
) -> None:
    path, reference = exported[name]
    info = probe(path)
    (stream,) = info["streams"]
    assert stream["codec_name"] == "mp3"
    assert int(stream["sample_rate"]) == SAMPLE_RATE >= 24_000
    assert int(stream["bit_rate"]) == kbps * 1000 >= 64_000
    assert stream["channels"] == reference.shape[1]
    timeline = api.compile(SHORT)
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [s.title for s in timeline.sections]
    assert [round(float(c["end_time"]) * 1000) for c in chapters] == [
        s.end for s in timeline.sections
    ]
    assert info["format"]["tags"]["title"] == "Short test"
    # the file's length less the delay and padding its tag declares
    assert float(info["format"]["duration"]) == pytest.approx(len(reference) / SAMPLE_RATE, abs=0.1)


@pytest.mark.speech
@pytest.mark.parametrize("name", ["mono", "stereo"])
def test_an_export_decodes_to_the_render_sample_for_sample_in_time(exported, name: str) -> None:
    path, reference = exported[name]
    decoded = decode(path)
    assert decoded.shape == reference.shape
    ref = reference.astype(float)
    lags = range(-40, 41)
    inner = slice(50_000, -50_000)
    fit = [float(np.sum(ref[inner] * np.roll(decoded, -k, axis=0)[inner])) for k in lags]
    assert lags[int(np.argmax(fit))] == 0
    assert snr(reference, decoded) > 15


def test_the_quiet_between_stretches_does_not_hold_the_writer_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the encoders are busy, the writer goes on rendering until AHEAD stretches wait:
    the silent frames queued between them do not count (they once halved the look-ahead, and
    a core sat idle while the render waited)."""
    out = io.BytesIO()
    writer = Mp3Writer(out, SAMPLE_RATE, 1)
    held = threading.Event()
    encode = mp3._Stretch._encode

    def slow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        held.wait(10)
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(mp3._Stretch, "_encode", slow)
    burst = np.zeros((FRAME * (QUIET_FRAMES + 20), 1), dtype=np.int16)
    burst[: FRAME // 2] = 5000  # a click, then enough quiet to end its stretch and more
    written: list[int] = []

    def feed() -> None:
        for i in range(AHEAD + 3):
            writer.write(burst)
            written.append(i)

    feeding = threading.Thread(target=feed)
    feeding.start()
    deadline = time.monotonic() + 5
    while len(written) < AHEAD and time.monotonic() < deadline:
        time.sleep(0.01)
    took = len(written)
    held.set()
    feeding.join(10)
    writer.close()
    writer.__exit__(None, None, None)
    assert took >= AHEAD  # AHEAD stretches handed over before the writer waited
    decoded = ffmpeg_decode(out.getvalue(), 1)
    assert decoded.shape == (len(burst) * (AHEAD + 3), 1)
