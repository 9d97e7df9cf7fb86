"""The bed under a routine: a seamless loop, faded in and out, ducked under every cue; the same
in play and export."""

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voiceguide import ambience, api
from voiceguide.ambience import BEDS, DUCK_DB, duck_gain, ducks_of
from voiceguide.clip import SAMPLE_RATE, Clip
from voiceguide.player import Player
from voiceguide.render import KNEE, Mix, render
from voiceguide.sink import FakeClock, FakeSink
from voiceguide.speech import FakeSynthesizer
from voiceguide.timeline import Event, Section, Timeline, ms_to_samples

from .conftest import ROUTINES, decode

SHORT = str(ROUTINES / "short.toml")


def s(ms: int) -> int:
    return ms_to_samples(ms, SAMPLE_RATE)


def noise_clip(ms: int) -> Clip:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(s(ms)) * 3000
    return Clip(np.clip(x, -32000, 32000).astype("<i2").tobytes())


def mono(timeline: Timeline, clips: dict[str, Clip], bed: ambience.Bed | None = None) -> np.ndarray:
    """The routine rendered in mono, as one channel: the bed's shape, whatever the channels."""
    return render(timeline, clips, mix=Mix(bed=bed, stereo=False))[:, 0]


def made(player: Player) -> None:
    """Wait until the whole routine has been made (the fake engine makes it at once)."""
    deadline = time.monotonic() + 20
    while not player.program.complete:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


def jumps_at(mix: np.ndarray, at: list[int]) -> tuple[float, float]:
    """(largest sample-to-sample step across the seams at `at`, largest anywhere else)."""
    steps = np.abs(np.diff(mix.astype(np.float64)))
    seams = np.zeros(len(steps), dtype=bool)
    for a in at:
        seams[a - 1] = True  # the step from sample a-1 to a
    return float(steps[seams].max()), float(steps[~seams].max())


@pytest.mark.parametrize("name", list(BEDS))
def test_a_shipped_bed_loops_without_a_seam_in_the_rendered_mix(name: str) -> None:
    bed = ambience.load(name, [], "test", [])
    assert bed is not None
    length = len(bed.loop)
    timeline = Timeline("t", (Section("quiet", 0, 3 * length * 1000 // SAMPLE_RATE, ()),))
    mix = mono(timeline, {}, bed)[s(5000) :]  # past the fade-in
    seams = [k * length - s(5000) for k in (1, 2)]
    at_seam, elsewhere = jumps_at(mix, seams)
    assert at_seam <= elsewhere
    assert rms(mix) > 100  # there is a bed to hear


def test_a_users_wav_loops_without_a_seam(tmp_path: Path) -> None:
    """A stereo 44.1 kHz WAV whose end does not meet its start (a tone cut mid-cycle)."""
    t = np.arange(44100 * 5) / 44100
    tone = (np.cos(2 * np.pi * 220.5 * t) * 8000).astype("<i2")  # ends half a cycle out
    path = tmp_path / "hum.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.repeat(tone, 2).tobytes())
    bed = ambience.load("hum.wav", [tmp_path], "test", [tmp_path])
    assert bed is not None
    raw_seam = abs(float(tone[-1]) - float(tone[0]))
    assert raw_seam > 500  # the file itself would click
    loop = np.concatenate([bed.loop, bed.loop[:1]])
    steps = np.abs(np.diff(loop))
    assert steps[-1] <= steps[:-1].max()


def test_the_bed_ducks_under_speech_by_the_set_amount_and_comes_back() -> None:
    """Measured on the rendered mix: with speech and bed minus speech alone is the bed in the
    mix; against the bed alone at the same moments, it is DUCK_DB down under the cue and
    untouched in the quiet after it."""
    bed = ambience.load("brown-noise", [], "test", [])
    cue = Event(10_000, 4000, "speech", "cue")
    clips = {"cue": noise_clip(4000)}
    with_speech = Timeline("t", (Section("s", 0, 30_000, (cue,)),))
    quiet = Timeline("t", (Section("s", 0, 30_000, ()),))
    mix = mono(with_speech, clips, bed).astype(np.float64)
    speech = mono(with_speech, clips).astype(np.float64)
    alone = mono(quiet, {}, bed).astype(np.float64)
    assert np.abs(speech).max() < KNEE * 32767  # the limiter is out of the way
    in_mix = mix - speech
    under = slice(s(10_000), s(14_000))
    after = slice(s(16_000), s(29_000))
    assert 20 * np.log10(rms(in_mix[under]) / rms(alone[under])) <= -DUCK_DB + 0.1
    assert np.abs(in_mix[after] - alone[after]).max() <= 1
    before = slice(s(5_000), s(9_500))
    assert np.abs(in_mix[before] - alone[before]).max() <= 1


def test_ducking_is_smooth() -> None:
    section = Section("s", 0, 20_000, (Event(5000, 3000, "speech", "cue"),))
    gain = duck_gain(0, s(20_000), ducks_of(section))
    assert gain.min() == pytest.approx(10 ** (-DUCK_DB / 20), rel=1e-3)
    assert gain[s(4000)] == 1 and gain[s(9000)] == 1
    assert np.abs(np.diff(gain)).max() < 0.001  # no step: ramps of hundreds of ms


def test_a_release_runs_on_into_the_next_section() -> None:
    bed = ambience.load("drone", [], "test", [])
    one = Section("one", 0, 5000, (Event(3000, 1990, "speech", "cue"),))
    two = Section("two", 5000, 5000, ())
    clips = {"cue": noise_clip(1990)}
    mix = mono(Timeline("t", (one, two)), clips, bed).astype(np.float64)
    speech = mono(Timeline("t", (one, two)), clips).astype(np.float64)
    bed_part = mix - speech
    edge = s(5000)
    steps = np.abs(np.diff(bed_part[edge - 2000 : edge + 2000]))
    assert steps.max() <= np.abs(np.diff(bed_part[s(7000) : s(9000)])).max() * 1.5


def test_the_bed_fades_in_at_the_start_and_out_at_the_end() -> None:
    bed = ambience.load("brown-noise", [], "test", [])
    timeline = Timeline(
        "t",
        (Section("Introduction", 0, 10_000, ()), Section("Closing", 10_000, 10_000, ())),
    )
    mix = mono(timeline, {}, bed).astype(np.float64)
    first, full, last = mix[: s(200)], mix[s(6000) : s(8000)], mix[-s(200) :]
    assert rms(first) < 0.05 * rms(full)
    assert rms(last) < 0.05 * rms(full)
    assert abs(mix[0]) <= 1 and abs(mix[-1]) <= 1
    quarter = mix[s(1000) - 500 : s(1000) + 500]
    assert 0.05 * rms(full) < rms(quarter) < 0.6 * rms(full)  # a ramp, not a switch


def test_chimes_stay_well_above_the_bed() -> None:
    bed = ambience.load("brown-noise", [], "test", [])
    timeline = Timeline(
        "t", (Section("s", 0, 12_000, (Event(8000, 800, "chime", name="hold-end"),)),)
    )
    mix = mono(timeline, {}, bed).astype(np.float64)
    alone = mono(Timeline("t", (Section("s", 0, 12_000, ()),)), {}, bed)
    chime = slice(s(8000), s(8500))
    assert 20 * np.log10(rms(mix[chime]) / rms(alone[chime])) > 12


def test_play_and_export_give_the_same_mix(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = FakeSink(clock)
    with api.playing(
        SHORT,
        api.Options(ambience="drone"),
        sink=sink,
        clock=clock,
        engine=FakeSynthesizer(),
    ) as player:
        made(player)
        while player.tick():
            clock.advance(0.05)
    out = tmp_path / "short.wav"
    api.export(SHORT, out, api.Options(ambience="drone"), engine=FakeSynthesizer())
    exported = decode(out)
    (main,) = [p for p in sink.playbacks if len(p.pcm) > 60 * SAMPLE_RATE]
    assert main.heard()[: len(exported)].tobytes() == exported.tobytes()
    off = tmp_path / "off.wav"
    api.export(SHORT, off, api.Options(ambience="off"), engine=FakeSynthesizer())
    assert decode(off).tobytes() != exported.tobytes()


def test_a_routine_names_its_bed_and_the_command_line_wins(run, routine_file, tmp_path) -> None:
    path = routine_file('title = "T"\nambience = "drone"\n[[technique]]\nuse = "self-hug"\n')
    routine = api.catalog.load_routine(str(path))
    assert routine.ambience == "drone"
    chosen = api.bed(routine)
    assert chosen is not None and chosen.name == "drone"
    assert api.bed(routine, "off") is None


def test_a_bad_bed_is_one_line(run, routine_file, tmp_path) -> None:
    result = run("export", "desk-break", "--ambience", "brwon-noise", "-o", str(tmp_path / "x.wav"))
    assert result.status == 2
    assert result.err.count("\n") == 1 and "did you mean brown-noise" in result.err
    outside = tmp_path / "elsewhere" / "bed.wav"
    outside.parent.mkdir()
    outside.write_bytes(b"RIFF")
    result = run("export", "desk-break", "--ambience", str(outside), "-o", str(tmp_path / "x.wav"))
    assert result.status == 2 and result.err.count("\n") == 1
    assert "'" + str(outside) + "' is not a sound we can play: not a WAV file" in result.err
    path = routine_file('title = "T"\nambience = "notes.wav"\n[[technique]]\nuse = "self-hug"\n')
    (path.parent / "notes.wav").write_text("not audio")
    result = run("check", str(path))
    assert result.status == 2 and "ambience" in result.err and "not a sound" in result.err


def test_plus_in_a_hold_adds_more_bed_without_a_step() -> None:
    clock = FakeClock()
    sink = FakeSink(clock)
    with api.playing(
        SHORT,
        api.Options(ambience="brown-noise"),
        sink=sink,
        clock=clock,
        engine=FakeSynthesizer(),
    ) as player:
        made(player)
        timeline = Timeline("t", tuple(player.program.sections))
        hold = next(e for e in timeline.events if e.kind == "hold")
        while clock.now() < (hold.start + 2000) / 1000 and player.tick():
            clock.advance(0.05)
        player.press("+")
        while player.tick():
            clock.advance(0.05)
        # the routine's audio with the time added (the confirmation may pause the playing)
        heard = np.concatenate([np.asarray(pcm) for pcm in player.program.pcm])
        assert player.program.shift_ms == 10_000  # the time was added
    heard = heard.astype(np.float64).mean(axis=1)
    quiet = [e for e in timeline.events if hold.start < e.start < hold.end]
    at = max(
        [hold.start + 2000, *(e.start + e.duration for e in quiet if e.start < hold.start + 3000)]
    )
    # the time added starts at a quiet moment after `at`; look at the 12 s from there
    window = heard[s(at) : s(at + 12_000)]
    assert rms(window[: s(10_000)]) > 50  # the bed, not a hole
    steps = np.abs(np.diff(window))
    assert steps.max() <= 3 * np.percentile(steps, 99.9)


def test_an_export_never_writes_over_its_own_bed(run, tmp_path) -> None:
    bed = tmp_path / "bed.wav"
    with wave.open(str(bed), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.sin(np.arange(SAMPLE_RATE * 3) / 9) * 3000).astype("<i2").tobytes())
    routine = tmp_path / "r.toml"
    routine.write_text('title = "T"\nambience = "bed.wav"\n[[technique]]\nuse = "self-hug"\n')
    before = bed.read_bytes()
    result = run("export", str(routine), "-o", str(bed))
    assert result.status == 2 and "own inputs" in result.err
    assert bed.read_bytes() == before


def test_the_ambience_level_sets_the_bed_against_the_voice() -> None:
    """In the quiet between cues, the bed is `bed_level` LU against the routine's loudness
    (BS.1770 by libebur128 on the rendered mix), and -12 is 6 dB above -18, sample for sample."""
    from voiceguide.loudness import measure

    bed = ambience.load("brown-noise", [], "test", [])
    assert bed is not None
    quiet = Timeline("t", (Section("s", 0, 60_000, ()),))
    settled = slice(s(5000), s(55_000))  # past the fade-in
    levels = {}
    for level in (-18.0, -12.0):
        mixed = render(quiet, {}, mix=Mix(bed=bed, stereo=False, bed_level=level))[:, 0]
        levels[level] = mixed[settled].astype(np.float64)
        lufs, _ = measure((levels[level] / 32768.0).astype(np.float32))
        assert abs(lufs - (-16 + level)) <= 0.5, (level, lufs)
    gain = np.dot(levels[-12.0], levels[-18.0]) / np.dot(levels[-18.0], levels[-18.0])
    assert abs(20 * np.log10(gain) - 6.0) <= 0.05


def test_the_ambience_level_comes_from_the_command_line_the_routine_or_the_config(
    routine_file,
) -> None:
    from voiceguide.config import config_path

    text = 'title = "T"\nambience = "drone"\n[[technique]]\nuse = "self-hug"\n'
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("ambience_level = -25\n")
    plain = api.catalog.load_routine(str(routine_file(text)))
    own = api.catalog.load_routine(
        str(routine_file(text.replace('"drone"\n', '"drone"\nambience_level = -20\n'), "own.toml"))
    )
    assert own.ambience_level == -20.0
    assert api.mix_for(own, api.Options(ambience_level=-14)).bed_level == -14.0
    assert api.mix_for(own).bed_level == -20.0
    assert api.mix_for(plain).bed_level == -25.0
    config_path().write_text("")
    assert api.mix_for(plain).bed_level == -18.0


def test_an_ambience_level_out_of_range_is_one_line(run, routine_file, tmp_path) -> None:
    from voiceguide.config import config_path

    out = tmp_path / "x.wav"
    result = run("export", "desk-break", "--ambience-level", "-6", "-o", str(out))
    assert result.status == 2 and not out.exists()
    assert "--ambience-level" in result.err and "-30" in result.err and "-12" in result.err
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('ambience_level = "loud"\n')
    result = run("export", "desk-break", "-o", str(out))
    assert result.status == 2 and not out.exists()
    assert result.err == (
        f"error: {config_path()}: ambience_level: must be a level in LU against the voice "
        "from -30 to -12, got 'loud'\n"
    )
    config_path().write_text("")
    path = routine_file('title = "T"\nambience_level = 0\n[[technique]]\nuse = "self-hug"\n')
    result = run("check", str(path))
    assert result.status == 2 and result.err.count("\n") == 1
    assert "ambience_level: must be a level in LU against the voice from -30 to -12" in result.err
