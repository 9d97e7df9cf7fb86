"""Exports checked with ffmpeg and ffprobe: decoders we did not write."""

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api
from voiceguide.clip import SAMPLE_RATE, Clip
from voiceguide.config import Settings
from voiceguide.errors import SpeechError
from voiceguide.render import Renderer, render
from voiceguide.speech.fake import FakeSynthesizer
from voiceguide.timeline import Timeline, ms_to_samples

from .conftest import ROUTINES, decode, probe

SHORT = str(ROUTINES / "short.toml")
pytestmark = pytest.mark.speech


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("exports")
    paths = {}
    timeline = None
    for suffix in (".wav", ".flac", ".ogg", ".mp3"):
        path = folder / f"short{suffix}"
        timeline = api.export(SHORT, path, transcript=folder / f"short{suffix}.vtt")
        paths[suffix] = path
    assert timeline is not None
    return timeline, paths


@pytest.fixture(scope="module")
def reference(exports: tuple[Timeline, dict[str, Path]]) -> np.ndarray:
    prepared = api.prepare(SHORT)
    assert prepared.timeline == exports[0]
    return render(prepared.timeline, prepared.clips)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_lossless_exports_are_the_render_to_the_sample(exports, reference, suffix: str) -> None:
    timeline, paths = exports
    decoded = decode(paths[suffix])
    assert len(decoded) == ms_to_samples(timeline.duration, SAMPLE_RATE)
    assert decoded.tobytes() == reference.tobytes()
    stream = probe(paths[suffix])["streams"][0]
    assert (int(stream["sample_rate"]), stream["channels"]) == (SAMPLE_RATE, 2)


@pytest.mark.parametrize("suffix", [".ogg", ".mp3"])
def test_lossy_exports_last_as_long_and_sound_like_the_render(exports, reference, suffix) -> None:
    timeline, paths = exports
    duration = float(probe(paths[suffix])["format"]["duration"])
    assert duration == pytest.approx(timeline.duration / 1000, abs=0.08)
    decoded = decode(paths[suffix]).astype(float)
    frame = SAMPLE_RATE // 100

    def envelope(x: np.ndarray, channel: int) -> np.ndarray:
        n = len(x) // frame
        return np.sqrt(np.mean(x[: n * frame, channel].reshape(n, frame) ** 2, axis=1))

    assert decoded.shape[1] == reference.shape[1] == 2
    for channel in (0, 1):
        a, b = envelope(reference.astype(float), channel), envelope(decoded, channel)
        lag = max(range(-5, 6), key=lambda k: np.corrcoef(a[10:-10], np.roll(b, -k)[10:-10])[0, 1])
        assert abs(lag) <= 5
        assert np.corrcoef(a[10:-10], np.roll(b, -lag)[10:-10])[0, 1] > 0.97
        assert np.abs(decoded[:, channel]).max() < 1.2 * np.abs(reference[:, channel]).max()


def test_the_audio_has_sound_where_the_timeline_has_events_and_silence_elsewhere(
    exports,
) -> None:
    timeline, paths = exports
    audio = decode(paths[".wav"]).astype(float)
    sounding = [e for e in timeline.events if e.kind in ("speech", "chime")]
    for e in sounding:
        a, b = ms_to_samples(e.start, SAMPLE_RATE), ms_to_samples(e.end, SAMPLE_RATE)
        assert np.abs(audio[a:b]).max() > 1000, f"no sound for {e}"
    covered = np.zeros(len(audio), dtype=bool)
    for e in sounding:
        covered[ms_to_samples(e.start, SAMPLE_RATE) : ms_to_samples(e.end, SAMPLE_RATE) + 1] = True
    assert covered.sum() < len(audio) * 0.9
    assert np.abs(audio[~covered]).max() == 0


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".ogg"])
def test_title_and_chapters_in_time_order(exports, suffix: str) -> None:
    """MP3 by ID3 CHAP frames under an ordered CTOC; FLAC and OGG by CHAPTERxxx comments."""
    timeline, paths = exports
    info = probe(paths[suffix])
    tags = info["format"].get("tags") or info["streams"][0]["tags"]
    assert {k.lower(): v for k, v in tags.items()}["title"] == "Short test"
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == [s.title for s in timeline.sections]
    assert [round(float(c["start_time"]) * 1000) for c in chapters] == [
        s.start for s in timeline.sections
    ]
    if suffix == ".mp3":
        assert [round(float(c["end_time"]) * 1000) for c in chapters] == [
            s.end for s in timeline.sections
        ]


def test_transcripts_are_synced_to_the_speech(exports, tmp_path: Path) -> None:
    timeline, paths = exports
    speech = [e for e in timeline.events if e.kind == "speech"]
    vtt = paths[".wav"].with_name("short.wav.vtt").read_text()
    stamps = re.findall(r"(\d+):(\d+):(\d+)\.(\d+) --> (\d+):(\d+):(\d+)\.(\d+)\n(.+)", vtt)
    assert len(stamps) == len(speech)
    for e, (h, m, s, ms, h2, m2, s2, ms2, text) in zip(speech, stamps, strict=True):
        assert int(h) * 3_600_000 + int(m) * 60_000 + int(s) * 1000 + int(ms) == e.start
        assert int(h2) * 3_600_000 + int(m2) * 60_000 + int(s2) * 1000 + int(ms2) == e.end
        assert text == e.text
    srt, lrc = tmp_path / "a.srt", tmp_path / "a.lrc"
    api.export(SHORT, tmp_path / "a.wav", transcript=srt)
    api.export(SHORT, tmp_path / "b.wav", transcript=lrc)
    end = speech[0].end
    assert srt.read_text().startswith(
        f"1\n00:00:00,000 --> 00:00:{end // 1000:02d},{end % 1000:03d}\n{speech[0].text}\n\n2\n"
    )
    lines = [line for line in lrc.read_text().splitlines() if re.match(r"\[\d", line)]
    assert len(lines) == len(speech)
    assert lines[1] == f"[00:{speech[1].start // 1000:02d}.{speech[1].start % 1000 // 10:02d}]" + (
        speech[1].text or ""
    )
    assert "[ti:Short test]" in lrc.read_text()


def test_the_same_inputs_give_the_same_wav_bytes(exports, tmp_path: Path) -> None:
    _, paths = exports
    again = tmp_path / "again.wav"
    api.export(SHORT, again)
    assert again.read_bytes() == paths[".wav"].read_bytes()


def test_voice_speed_changes_speech_but_never_holds() -> None:
    slow = api.compile("desk-break", api.Options(rate=100))
    fast = api.compile("desk-break", api.Options(rate=250))

    def speech(t: Timeline) -> int:
        return sum(e.duration for e in t.events if e.kind == "speech")

    assert speech(slow) >= 1.8 * speech(fast)
    for kind in ("hold", "rest"):
        assert [e.duration for e in slow.events if e.kind == kind] == [
            e.duration for e in fast.events if e.kind == kind
        ]


def test_an_interrupted_export_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.flac"
    target.write_bytes(b"the old export")

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "audio":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.export(SHORT, target, transcript=tmp_path / "keep.vtt", progress=interrupt)
    assert target.read_bytes() == b"the old export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.flac"]


def test_unknown_formats_are_refused_before_any_work(run, tmp_path: Path) -> None:
    result = run("export", SHORT, "-o", str(tmp_path / "x.aiff"))
    assert result.status == 2
    assert "unknown audio format '.aiff'; use one of .wav, .flac, .ogg, .mp3" in result.err
    result = run(
        "export", SHORT, "-o", str(tmp_path / "x.wav"), "--transcript", str(tmp_path / "x.txt")
    )
    assert result.status == 2 and "unknown transcript format '.txt'" in result.err
    result = run("export", SHORT, "-o", str(tmp_path / "no" / "x.wav"))
    assert result.status == 2 and "does not exist" in result.err
    assert list(tmp_path.iterdir()) == []


def test_renderer_is_shared_by_export(exports) -> None:
    """What export writes is the renderer's output, section by section."""
    timeline, _ = exports
    prepared = api.prepare(SHORT)
    parts = list(Renderer(prepared.clips).sections(timeline))
    assert sum(len(p) for p in parts) == ms_to_samples(timeline.duration, SAMPLE_RATE)


def _stages(events: list[tuple[str, int, int]], stage: str) -> list[int]:
    return [i for i, event in enumerate(events) if event[0] == stage]


def test_sections_are_written_while_later_cues_are_still_being_made(tmp_path: Path) -> None:
    """Cold, the opening is rendered and written as soon as its own cues are made, not after
    every cue of the routine; the progress of the audio ends at the routine's real length."""
    events: list[tuple[str, int, int]] = []
    timeline = api.export(
        SHORT,
        tmp_path / "x.wav",
        progress=lambda *event: events.append(event),
        engine=FakeSynthesizer(),
    )
    speech, audio = _stages(events, "speech"), _stages(events, "audio")
    assert audio[0] < speech[-1]
    assert events[speech[-1]][1:] == (len(timeline.spoken),) * 2
    assert events[audio[-1]][1:] == (timeline.duration, timeline.duration)
    assert all(events[i][1] <= events[i][2] for i in audio)


@pytest.mark.parametrize("start_at", [None, 2], ids=["whole", "resumed"])
def test_the_progress_of_the_audio_counts_to_about_its_real_length(
    tmp_path: Path, start_at: int | None
) -> None:
    """Before the last section is laid out, the total is the estimate of what is exported (a
    resumed export's own, not the whole routine's)."""
    events: list[tuple[str, int, int]] = []
    timeline = api.export(
        str(ROUTINES / "evening.toml"),
        tmp_path / "x.wav",
        progress=lambda *event: events.append(event),
        engine=FakeSynthesizer(),
        start_at=start_at,
    )
    totals = {events[i][2] for i in _stages(events, "audio")}
    assert all(abs(total / timeline.duration - 1) < 0.05 for total in totals), totals


class FailingLast(FakeSynthesizer):
    """Speaks every cue but the last, then fails as a dead engine would."""

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        def clips() -> Iterator[Clip]:
            for i, text in enumerate(texts):
                if i == len(texts) - 1:
                    raise SpeechError("the speech engine stopped")
                yield self.clip(text, settings)

        return clips()


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a"])
def test_speech_failing_after_the_audio_began_leaves_nothing(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"x{suffix}"
    events: list[tuple[str, int, int]] = []
    with pytest.raises(SpeechError, match="stopped"):
        api.export(
            SHORT,
            target,
            transcript=tmp_path / "x.vtt",
            progress=lambda *event: events.append(event),
            engine=FailingLast(),
        )
    if suffix != ".m4a":  # MP4 lays out every section before its audio
        assert _stages(events, "audio")
    assert list(tmp_path.iterdir()) == []
