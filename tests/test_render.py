import numpy as np
import pytest

from voiceguide import sounds
from voiceguide.catalog import load_routine
from voiceguide.clip import SAMPLE_RATE, Clip
from voiceguide.compiler import compile_routine, cue_texts
from voiceguide.config import Settings
from voiceguide.loudness import REFERENCE_LUFS, SPEECH_PEAK_DBTP, TARGET_LUFS, level, measure
from voiceguide.render import DESIGN_LUFS, Mix, Renderer, gain, limit, speech
from voiceguide.render import render as render_mix
from voiceguide.speech import FakeSynthesizer
from voiceguide.timeline import Event, Section, Timeline, ms_to_samples

from .conftest import ROUTINES


def render(
    timeline: Timeline, clips: dict[str, Clip], volume: float = 1.0, loudness: float = TARGET_LUFS
) -> np.ndarray:
    """In mono, as one channel: placement and level, whatever the channels."""
    return render_mix(timeline, clips, volume, Mix(loudness=loudness, stereo=False))[:, 0]


def dc(value: int, frames: int) -> Clip:
    return Clip(np.full(frames, value, dtype="<i2").tobytes())


def one_section(*events: Event, duration: int = 3000) -> Timeline:
    return Timeline("t", (Section("s", 0, duration, events),))


def test_every_clip_starts_at_its_exact_sample() -> None:
    clips = {"a": dc(8000, 441), "b": dc(-8000, 300)}
    events = (Event(0, 20, "speech", "a"), Event(1003, 14, "speech", "b"))
    pcm = render(one_section(*events), clips)
    assert len(pcm) == ms_to_samples(3000, SAMPLE_RATE)
    start = ms_to_samples(1003, SAMPLE_RATE)
    assert pcm[start - 1] == 0 and pcm[start + 1] < 0
    assert pcm[start + 300] == 0 and pcm[start + 299] <= 0
    assert np.count_nonzero(pcm[441:start]) == 0


def test_sections_land_on_the_absolute_sample_grid() -> None:
    """A section starting at an odd millisecond still places clips where the whole-routine
    grid says: offsets are never accumulated."""
    clip = {"a": dc(8000, 100)}
    timeline = Timeline(
        "t",
        (
            Section("one", 0, 1001, (Event(0, 5, "speech", "a"),)),
            Section("two", 1001, 999, (Event(1500, 5, "speech", "a"),)),
        ),
    )
    pcm = render(timeline, clip)
    assert len(pcm) == ms_to_samples(2000, SAMPLE_RATE)
    onset = ms_to_samples(1500, SAMPLE_RATE)
    assert pcm[onset - 1] == 0 and pcm[onset + 1] > 0


def test_speech_is_leveled_to_one_loudness_and_rendered_with_faded_edges() -> None:
    """`level` (what every engine's clip goes through) puts a quiet and a loud cue, and a
    cue with a spike far above the rest, at the reference loudness under the peak ceiling;
    the renderer moves them by the routine's loudness and fades their edges."""
    rng = np.random.default_rng(1)
    spiky = rng.standard_normal(22050) * 0.05
    spiky[5000:5100] += 0.9
    for x in (
        np.sin(np.arange(4410) / 5) * 0.03,
        np.sin(np.arange(22050) / 7) * 0.6,
        spiky,
    ):
        y = level(x.astype(np.float32))
        loudness, peak = measure(y)
        assert loudness == pytest.approx(REFERENCE_LUFS, abs=0.1)
        assert peak <= SPEECH_PEAK_DBTP + 0.05
        clip = Clip(np.round(y * 32767).astype("<i2").tobytes())
        out = speech(clip, REFERENCE_LUFS - 6)
        assert measure(out)[0] == pytest.approx(REFERENCE_LUFS - 6, abs=0.3)  # the fades
        assert abs(out[0]) < 1e-6 and abs(out[-1]) < 0.01
    quiet = (rng.standard_normal(22050) * 0.001).astype(np.float32)
    assert measure(level(quiet))[1] <= SPEECH_PEAK_DBTP  # raised, never past the ceiling


def test_overlapping_sounds_never_clip() -> None:
    clips = {"a": dc(30000, 2000), "b": dc(30000, 2000)}
    events = (
        Event(0, 100, "speech", "a"),
        Event(0, 100, "speech", "b"),
        Event(0, 800, "chime", name="hold-start"),
    )
    pcm = render(one_section(*events), clips)
    assert np.abs(pcm.astype(np.int32)).max() < 32767
    assert np.abs(limit(np.array([0.5, 3.0, -3.0], dtype=np.float32))).max() < 1.0
    assert limit(np.array([0.5], dtype=np.float32))[0] == 0.5


def test_chimes_are_the_shipped_sounds_moved_with_the_loudness() -> None:
    """At the loudness they were made for, as shipped; 4 dB quieter, 4 dB down."""
    events = (Event(100, 800, "chime", name="hold-start"),)
    pcm = render(one_section(*events), {}, loudness=DESIGN_LUFS)
    quieter = render(one_section(*events), {}, loudness=DESIGN_LUFS - 4).astype(float)
    assert np.abs(quieter).max() == pytest.approx(
        np.abs(pcm).max() * gain(DESIGN_LUFS - 4), rel=0.01
    )
    start = ms_to_samples(100, SAMPLE_RATE)
    chime = np.frombuffer(sounds.load("hold-start").pcm, dtype="<i2")
    body = slice(start + 200, start + len(chime) - 2000)
    expected = chime[200:-2000]
    assert np.abs(pcm[body].astype(int) - expected).max() <= 1


def test_volume_scales_everything() -> None:
    events = (Event(0, 800, "chime", name="hold-start"),)
    full = render(one_section(*events), {}).astype(float)
    half = render(one_section(*events), {}, volume=0.5).astype(float)
    assert np.abs(half).max() == pytest.approx(np.abs(full).max() / 2, rel=0.01)


def test_rendering_a_routine_is_deterministic_and_fills_its_timeline() -> None:
    routine = load_routine(str(ROUTINES / "evening.toml"))
    settings = Settings(rate=140)
    texts = cue_texts(routine)
    clips = dict(zip(texts, FakeSynthesizer().synthesize(texts, settings), strict=True))
    timeline = compile_routine(routine, lambda t: clips[t].duration_ms)
    first, second = render(timeline, clips), render(timeline, clips)
    assert first.tobytes() == second.tobytes()
    assert len(first) == ms_to_samples(timeline.duration, SAMPLE_RATE)
    parts = list(Renderer(clips, mix=Mix(stereo=False)).sections(timeline))
    assert np.concatenate(parts)[:, 0].tobytes() == first.tobytes()


@pytest.mark.parametrize("stereo", [True, False], ids=["stereo", "mono"])
def test_mixing_only_where_something_sounds_is_the_whole_mix(stereo: bool) -> None:
    """With no bed, a block is mixed only where its sounds reach and is digital silence
    elsewhere: sample for sample what mixing every frame gives (a bed of silence makes the
    renderer mix every frame). Panned cues, chimes and cues across block edges included."""
    from voiceguide.ambience import Bed

    routine = load_routine("upper-back")
    settings = Settings(rate=150)
    texts = cue_texts(routine)
    clips = dict(zip(texts, FakeSynthesizer().synthesize(texts, settings), strict=True))
    timeline = compile_routine(routine, lambda t: clips[t].duration_ms)
    assert {e.side for e in timeline.events} >= {"left", "right"}
    silent = Bed("silence", np.zeros(SAMPLE_RATE, dtype=np.float32), -20.0)
    sparse = render_mix(timeline, clips, mix=Mix(stereo=stereo))
    whole = render_mix(timeline, clips, mix=Mix(stereo=stereo, bed=silent))
    assert sparse.tobytes() == whole.tobytes()
    assert 0.1 < np.mean(sparse.any(axis=1)) < 0.9  # sound and silence both
