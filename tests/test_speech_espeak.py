"""The speech engine, with the real espeak-ng: formats, settings, hostile texts, crashes."""

from __future__ import annotations

import array
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from voiceguide.clip import Clip
from voiceguide.config import Settings
from voiceguide.errors import SpeechError, UsageError
from voiceguide.estimate import duration_band, estimate_ms, is_plausible
from voiceguide.speech import (
    FakeSynthesizer,
    Synthesizer,
    clean_text,
    list_voices,
    resolve_voice,
)
from voiceguide.speech import _espeak_worker as _worker
from voiceguide.speech import espeak as speech
from voiceguide.speech.espeak import EspeakEngine


class Pyttsx3Synthesizer(EspeakEngine):
    """The espeak engine's worker pool as it is: clips untrimmed, the rate espeak-ng's own."""

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        return self.raw(texts, settings)


SENTENCE = "Breathe in slowly and lift your chest toward the ceiling."

CUES = [
    "Inhale and reach your arms overhead.",
    "Hold for five breaths.",
    "Switch sides.",
    "Keep your lower back flat against the floor while you lift your chest.",
    "Thread the needle: slide your right arm under your left.",
    "Rest for 30 seconds.",
    "Exhale and slowly round your upper back.",
    "Open book. Lie on your side with your knees bent.",
    "Good. Now the other side.",
    "Wall angels, eight slow reps.",
]


def samples(clip: Clip) -> array.array[int]:
    return array.array("h", clip.pcm)


def speak(engine: Synthesizer, text: str, **settings: Any) -> Clip:
    (clip,) = engine.synthesize([text], Settings(**settings))
    return clip


def wait_until_idle(engine: Pyttsx3Synthesizer) -> None:
    """Every worker started, and done with texts left over from an earlier test."""
    engine.start()
    deadline = time.monotonic() + 30
    while any(not worker.ready or worker.tasks for worker in engine._workers):
        assert time.monotonic() < deadline, "the workers are stuck"
        engine._pump(0.1)


@pytest.fixture(scope="module")
def engine() -> Iterator[Pyttsx3Synthesizer]:
    with Pyttsx3Synthesizer() as synthesizer:
        yield synthesizer


@pytest.fixture(scope="module")
def deterministic() -> Iterator[Pyttsx3Synthesizer]:
    with Pyttsx3Synthesizer(deterministic=True) as synthesizer:
        yield synthesizer


# --- Text and the duration model (no engine) -------------------------------------------------


def test_clean_text_strips_controls_and_keeps_text() -> None:
    assert clean_text("\x0180S hello\tthere\nfriend\r\n") == "80S hello there friend"
    assert clean_text("a\x00b\x1bc\x7fd\x85e\x9bf") == "abcd ef"
    assert clean_text("<speak>hi</speak> & [[h@l'oU]]") == "<speak>hi</speak> & [[h@l'oU]]"
    assert clean_text("bad \ud800 surrogate") == "bad surrogate"
    assert clean_text(" \t\n ") == ""


def test_estimate_grows_with_text_and_shrinks_with_rate() -> None:
    assert estimate_ms("", 150) == 0
    assert estimate_ms("Hold.", 150) < estimate_ms(SENTENCE, 150)
    rates = [80, 100, 120, 150, 175, 200, 250, 300, 400, 450]
    lengths = [estimate_ms(SENTENCE, rate) for rate in rates]
    assert lengths == sorted(lengths, reverse=True)
    assert estimate_ms(SENTENCE, 60) == estimate_ms(SENTENCE, 80)  # espeak-ng's floor


def test_band_tells_rate_120_from_200() -> None:
    for text in [*CUES, SENTENCE]:
        if len(text) < 20:
            continue
        assert is_plausible(text, 120, estimate_ms(text, 120))
        assert not is_plausible(text, 120, estimate_ms(text, 200))
        assert not is_plausible(text, 200, estimate_ms(text, 120))


def test_fake_synthesizer_is_deterministic_and_realistic() -> None:
    fake = FakeSynthesizer()
    settings = Settings(rate=150, voice="en-us")
    first = list(fake.synthesize(CUES, settings))
    again = list(fake.synthesize(CUES, settings))
    assert first == again
    assert fake.calls == [tuple(CUES), tuple(CUES)]
    for text, clip in zip(CUES, first, strict=True):
        assert abs(clip.duration_ms - estimate_ms(text, 150)) <= 1
        assert is_plausible(text, 150, clip.duration_ms)
    other_voice = FakeSynthesizer.clip(CUES[0], Settings(rate=150, voice="gmw/en"))
    assert other_voice.pcm != first[0].pcm
    assert max(samples(FakeSynthesizer.clip("Hi.", Settings(volume=0.0)))) == 0


def test_plain_text_guard_removes_markup_flags() -> None:
    """pyttsx3 must never turn on SSML or phoneme input, whatever a later version passes."""
    seen: list[int] = []
    fake = SimpleNamespace(
        SSML=0x10, PHONEMES=0x100, Synth=lambda text, flags=0: seen.append(flags)
    )
    _worker._force_plain_text(fake)
    fake.Synth(b"<speak/>", flags=0x1000 | 0x10 | 0x100 | 0x1)
    assert seen == [0x1001]


def test_missing_espeak_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech, "_LIBRARIES", ("libespeak-ng-not-there.so.9",))
    speech._espeak_version.cache_clear()
    try:
        with pytest.raises(SpeechError, match=r"apt-get install espeak-ng") as info:
            Pyttsx3Synthesizer()
        assert "\n" not in str(info.value)
    finally:
        speech._espeak_version.cache_clear()


def test_estimating_never_imports_the_engine() -> None:
    """`list` and `show --estimate` only estimate: no engine, model or numpy is loaded."""
    code = (
        "import sys; from voiceguide import api; api.builtin_routines(); "
        "api.compile('upper-back', estimate_only=True); "
        "print(sorted(m for m in sys.modules if not m.startswith('_')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    for heavy in ("'numpy'", "'hibari'", "'onnxruntime'", "'pyttsx3'", "'soxr'", "'pedalboard'"):
        assert heavy not in result.stdout
    assert "'voiceguide.speech.rates'" in result.stdout


def test_pyttsx3_version_is_read_without_importlib_metadata() -> None:
    version, binding = speech._pyttsx3()
    assert version == importlib.metadata.version("pyttsx3")
    assert Path(binding).parts[-3:] == ("pyttsx3", "drivers", "_espeak.py")


# --- The real engine -----------------------------------------------------------------------


@pytest.mark.speech
def test_worker_imports_only_what_it_needs() -> None:
    """A worker is ready in milliseconds: no pyttsx3 engine, typing, enum or multiprocessing."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", _worker.__file__, speech._pyttsx3()[1]],
        stdin=subprocess.DEVNULL,  # end of input at once: it says it is ready, then exits
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert result.stdout[0] == _worker.READY
    lines = result.stderr.decode().splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import")}
    assert "ctypes" in imported
    heavy = {"pyttsx3", "pyttsx3.engine", "typing", "enum", "multiprocessing", "difflib"}
    assert not imported & (heavy | {"importlib.metadata", "voiceguide", "voiceguide.speech"})


@pytest.mark.speech
def test_close_stops_every_worker_at_once() -> None:
    engine = Pyttsx3Synthesizer(workers=2)
    wait_until_idle(engine)
    stream = engine.synthesize(
        ["Hello.", "A long cue that keeps its worker busy. " * 100], Settings()
    )
    next(stream)  # one worker is now busy with the long cue, the other idle
    pids = [worker.pid for worker in engine._workers]
    started = time.perf_counter()
    engine.close()
    assert time.perf_counter() - started < 0.5
    for pid in pids:
        with pytest.raises(ChildProcessError):  # gone, and reaped
            os.waitpid(pid, os.WNOHANG)
    assert engine._workers == []


@pytest.mark.speech
def test_clip_format(engine: Pyttsx3Synthesizer) -> None:
    clip = speak(engine, SENTENCE)
    assert clip.sample_rate == 22050
    assert len(clip.pcm) % 2 == 0 and clip.frames > 22050  # mono 16-bit, over a second
    assert max(abs(s) for s in samples(clip)) > 3000  # speech, not silence
    assert engine.engine_id == "espeak/pyttsx3-2.99/espeak-ng-1.51/finish-2"


@pytest.mark.speech
def test_rate_changes_length(engine: Pyttsx3Synthesizer) -> None:
    slow = speak(engine, SENTENCE, rate=100)
    fast = speak(engine, SENTENCE, rate=250)
    assert slow.duration_ms >= 1.8 * fast.duration_ms
    assert is_plausible(SENTENCE, 100, slow.duration_ms)
    assert is_plausible(SENTENCE, 250, fast.duration_ms)


@pytest.mark.speech
def test_volume_changes_loudness(engine: Pyttsx3Synthesizer) -> None:
    loud = max(abs(s) for s in samples(speak(engine, SENTENCE, volume=1.0)))
    quiet = max(abs(s) for s in samples(speak(engine, SENTENCE, volume=0.3)))
    assert quiet < 0.5 * loud


@pytest.mark.speech
def test_voice_changes_audio(engine: Pyttsx3Synthesizer) -> None:
    american = speak(engine, SENTENCE, voice="en-us")
    british = speak(engine, SENTENCE, voice="gmw/en")
    german = speak(engine, SENTENCE, voice="German")
    assert len({american.pcm, british.pcm, german.pcm}) == 3
    # Not bit-identical: espeak-ng carries a little state from one text to the next.
    again = speak(engine, SENTENCE, voice="EN-US")
    assert abs(again.frames - american.frames) < 0.06 * american.frames


@pytest.mark.speech
def test_voices_and_resolution(engine: Pyttsx3Synthesizer) -> None:
    voices = engine.voices()
    assert len(voices) > 50
    us = next(v for v in voices if v.id == "gmw/en-US")
    assert us.name == "English (America)" and us.languages == ("en-us",)
    for name in ("gmw/en-US", "GMW/EN-us", "English (America)", "en-us", " EN-US "):
        assert resolve_voice(name, voices) == "gmw/en-US"
    assert resolve_voice("en", voices) == "gmw/en"
    assert list_voices("espeak") == voices


@pytest.mark.speech
def test_unknown_voice_lists_close_matches(engine: Pyttsx3Synthesizer) -> None:
    close = r"unknown voice 'en-uss' of the espeak engine; close matches: .*en-us"
    with pytest.raises(UsageError, match=close):
        engine.resolve_voice("en-uss")
    with pytest.raises(UsageError, match=r"unknown voice 'Englsh \(Amerca\)'.*English \(America"):
        list(engine.synthesize(["Hello."], Settings(voice="Englsh (Amerca)")))
    with pytest.raises(
        UsageError, match=r"unknown voice 'zzzzqqq' of the espeak engine; none of the \d+ voices"
    ):
        engine.resolve_voice("zzzzqqq")


@pytest.mark.speech
def test_control_characters_never_reach_espeak(engine: Pyttsx3Synthesizer) -> None:
    # Unstripped, \x01 + "400S" is an espeak-ng command to speak the rest at rate 400;
    # stripped, "400S" is read out like any text.
    plain = speak(engine, "400S " + SENTENCE, rate=100)
    sneaky = speak(engine, "\x01400S " + SENTENCE.replace(" ", "\x00 \x1b"), rate=100)
    assert abs(sneaky.duration_ms - plain.duration_ms) < 0.06 * plain.duration_ms
    assert is_plausible("400S " + SENTENCE, 100, sneaky.duration_ms)


@pytest.mark.speech
def test_markup_is_spoken_as_text(engine: Pyttsx3Synthesizer) -> None:
    markup = "<speak>hello</speak> & <audio src='/etc/passwd'/>"
    clip = speak(engine, markup)
    hello = speak(engine, "hello")
    assert is_plausible(markup, 150, clip.duration_ms)
    assert clip.duration_ms > 4 * hello.duration_ms  # every bracket and word was read out
    phonemes = speak(engine, "[[h@l'oU]] [[w'3:ld]]")
    assert phonemes.duration_ms > 1.5 * speak(engine, "hello world").duration_ms


@pytest.mark.speech
def test_empty_and_blank_texts_give_empty_clips(engine: Pyttsx3Synthesizer) -> None:
    clips = list(engine.synthesize(["", "Hi.", " \n\x01 "], Settings()))
    assert [c.frames for c in clips][::2] == [0, 0] and clips[1].frames > 0


@pytest.mark.speech
def test_too_long_cue_is_refused(engine: Pyttsx3Synthesizer) -> None:
    with pytest.raises(SpeechError, match=r"cue too long to speak \(5999 characters"):
        list(engine.synthesize(["word " * 1200], Settings()))


@pytest.mark.speech
def test_crash_names_the_cue_and_engine_recovers(engine: Pyttsx3Synthesizer) -> None:
    crasher = "s'" * 220  # smashes espeak-ng 1.51's stack (CVE-2023-49990..49994)
    clips = engine.synthesize(["First cue.", crasher, "Third cue."], Settings())
    assert next(clips).duration_ms > 300
    with pytest.raises(SpeechError) as info:
        next(clips)
    message = str(info.value)
    assert "crashed" in message and "'s's's's's's" in message and "\n" not in message
    assert len(message) < 200
    after = list(engine.synthesize(CUES[:4], Settings()))
    assert all(is_plausible(t, 150, c.duration_ms) for t, c in zip(CUES, after, strict=False))
    assert len(engine._workers) == engine.size


@pytest.mark.speech
def test_timeout_kills_the_worker_and_engine_recovers(engine: Pyttsx3Synthesizer) -> None:
    wait_until_idle(engine)  # else the text may wait its turn, or a worker's start-up
    timeout = engine.timeout
    engine.timeout = -1.0  # every text is already late (a short one may still be spoken first)
    try:
        with pytest.raises(SpeechError, match=r"timed out speaking 'Too slow\. Too slow\."):
            list(engine.synthesize(["Too slow. " * 50], Settings()))
    finally:
        engine.timeout = timeout
    assert is_plausible(SENTENCE, 150, speak(engine, SENTENCE).duration_ms)


@pytest.mark.speech
def test_lost_rate_is_caught_and_retried(
    engine: Pyttsx3Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulate espeak-ng dropping the rate: the engine is asked for 200 instead of 120."""
    right = speak(engine, SENTENCE, rate=120).duration_ms
    wrong = speak(engine, SENTENCE, rate=200).duration_ms
    assert not is_plausible(SENTENCE, 120, wrong) and not is_plausible(SENTENCE, 200, right)

    lost_once = {0: 200}
    monkeypatch.setattr(engine, "_rate_for", lambda task, rate: lost_once.get(task.attempt, rate))
    retries = engine.retries
    clip = speak(engine, SENTENCE, rate=120)
    assert engine.retries == retries + 1
    assert abs(clip.duration_ms - right) < 0.02 * right

    lost_twice = {0: 200, 1: 300}
    monkeypatch.setattr(engine, "_rate_for", lambda task, rate: lost_twice.get(task.attempt, rate))
    with pytest.raises(SpeechError, match=r"wrong clip twice for 'Breathe in.*at rate 120"):
        speak(engine, SENTENCE, rate=120)


@pytest.mark.speech
def test_stream_yields_first_clip_before_the_rest(engine: Pyttsx3Synthesizer) -> None:
    texts = [CUES[0]] + ["A much longer cue, " * 30] * 6
    started = time.perf_counter()
    clips = engine.synthesize(texts, Settings())
    next(clips)
    first = time.perf_counter() - started
    list(clips)
    total = time.perf_counter() - started
    assert first < total / 2


@pytest.mark.speech
def test_stdout_stays_clean(capfd: pytest.CaptureFixture[str]) -> None:
    with Pyttsx3Synthesizer() as fresh:  # its workers start while fd 1 and 2 are captured
        clips = list(fresh.synthesize(CUES, Settings()))
        with pytest.raises(SpeechError):
            list(fresh.synthesize(["s'" * 220], Settings()))
    assert len(clips) == len(CUES)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.speech
@pytest.mark.parametrize("mode", ["shared", "deterministic"])
def test_stress_alternating_rates_and_voices(mode: str, request: pytest.FixtureRequest) -> None:
    """300 clips, settings changing on every batch: none at a lost rate or voice."""
    engine: Pyttsx3Synthesizer = request.getfixturevalue(
        "engine" if mode == "shared" else "deterministic"
    )
    contents: dict[tuple[str, str, int], set[bytes]] = {}
    rates = [100, 250, 150, 300, 120, 200, 80, 400]
    voices = ["en-us", "gmw/en", "en-gb-x-rp"]
    retries = engine.retries
    lengths: dict[tuple[str, str, int], set[int]] = {}
    started = time.perf_counter()
    for batch in range(100):
        settings = Settings(rate=rates[batch % len(rates)], voice=voices[batch % len(voices)])
        texts = [CUES[(batch + i) % len(CUES)] for i in range(3)]
        for text, clip in zip(texts, engine.synthesize(texts, settings), strict=True):
            low, high = duration_band(text, settings.rate)
            assert low <= clip.duration_ms <= high, (text, settings)
            lengths.setdefault((text, settings.voice, settings.rate), set()).add(clip.frames)
            contents.setdefault((text, settings.voice, settings.rate), set()).add(clip.pcm)
    elapsed = time.perf_counter() - started
    assert engine.retries == retries  # every first attempt was right
    for key, frames in lengths.items():  # same text and settings: same length, within 6%
        assert max(frames) - min(frames) <= 0.06 * max(frames), key  # (a lost rate: 20%+)
    if mode == "deterministic":  # and, deterministic, the very same samples
        assert all(len(variants) == 1 for variants in contents.values())
    assert elapsed < 60


# --- Deterministic clips ---------------------------------------------------------------------


@pytest.mark.speech
def test_deterministic_clip_does_not_depend_on_what_was_said_before(
    deterministic: Pyttsx3Synthesizer,
) -> None:
    """In one process, espeak-ng's pitch flutter runs on from text to text; a fork per clip
    starts every clip from the same state."""
    after_short = list(deterministic.synthesize(["Hold.", SENTENCE], Settings()))[1]
    after_long = list(
        deterministic.synthesize(
            ["Rest for 30 seconds, then switch sides " * 3, SENTENCE], Settings()
        )
    )[1]
    speak(deterministic, "Atme langsam ein.", voice="German")  # another voice in between
    alone = speak(deterministic, SENTENCE)
    assert after_short.pcm == after_long.pcm == alone.pcm
    assert is_plausible(SENTENCE, 150, alone.duration_ms)


@pytest.mark.speech
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the espeak-ng command")
def test_deterministic_clip_is_what_the_espeak_ng_command_writes(
    deterministic: Pyttsx3Synthesizer, tmp_path: Path
) -> None:
    for rate, volume in ((150, 1.0), (220, 0.5)):
        clip = speak(deterministic, SENTENCE, rate=rate, volume=volume)
        path = tmp_path / f"{rate}.wav"
        command = ["espeak-ng", "-v", "gmw/en-US", "-s", str(rate), "-a", str(round(100 * volume))]
        subprocess.run([*command, "-w", str(path), SENTENCE], check=True, timeout=60)
        with wave.open(str(path), "rb") as w:
            assert (w.getframerate(), w.readframes(w.getnframes())) == (22050, clip.pcm)


@pytest.mark.speech
def test_deterministic_crash_costs_the_clip_not_the_worker(
    deterministic: Pyttsx3Synthesizer,
) -> None:
    wait_until_idle(deterministic)
    pids = sorted(worker.pid for worker in deterministic._workers)
    with pytest.raises(SpeechError, match=r"^speech engine crashed \(signal \d+.*'s's's's"):
        list(deterministic.synthesize(["First cue.", "s'" * 220], Settings()))
    assert sorted(worker.pid for worker in deterministic._workers) == pids  # no restart
    assert is_plausible(SENTENCE, 150, speak(deterministic, SENTENCE).duration_ms)


@pytest.mark.speech
def test_unusual_text_the_model_misjudges_is_still_spoken(engine: Pyttsx3Synthesizer) -> None:
    """A spelled-out W is "double-u", three syllables: longer than the model's letter names
    (`estimate._SPELLED`); a retry of the same length shows it is no lost rate."""
    text = "WWW WWW WWW WWW"
    retries = engine.retries
    clip = speak(engine, text)
    assert not is_plausible(text, 150, clip.duration_ms)
    assert engine.retries == retries + 1
