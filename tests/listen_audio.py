"""Spoken audio for the listening tests and benchmark, made at run time at 16 kHz mono int16.

Commands and non-commands spoken by espeak-ng (several voices, variants and rates, through
its CLI) and by voiceguide's natural engine (hibari-tts); pink and brown noise mixed in at a
given signal-to-noise ratio; and scenes: utterances laid over a noise bed with pauses
between them, fed frame by frame as a microphone would. Everything is seeded: the same call
gives the same samples.
"""

from __future__ import annotations

import functools
import io
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from voiceguide.config import Settings
from voiceguide.listen.commands import COMMANDS, PHRASES, Command
from voiceguide.listen.segmenter import FRAME, RATE, Segmenter

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class Voice:
    """Who speaks: an espeak-ng voice (with variant) or "natural", and the words per minute."""

    name: str
    rate: int

    def __str__(self) -> str:
        return f"{self.name}@{self.rate}"


ESPEAK_VOICES = (
    Voice("en-us", 175),
    Voice("en-us+f3", 140),
    Voice("en-gb-x-rp+m4", 210),
    Voice("en-029+f2", 160),
)
NATURAL_VOICES = (Voice("natural", 150), Voice("natural", 190))

CONVERSATION = (
    "Hello there.",
    "What time is it?",
    "I am a bit tired today.",
    "That feels good.",
    "Can you hear me?",
    "Where is my phone?",
    "Hang on a second.",
    "The kettle is boiling.",
    "Yes.",
    "No, thank you.",
    "I think so.",
    "Is it raining outside?",
    "Turn it down a bit.",
    "Let me see.",
    "Okay then.",
    "Nice and easy.",
    "Good morning.",
    "See you later.",
    "Ten seconds left.",
    "Go ahead.",
    "One more.",
)
"""Short things said in a room that are not commands (some close to one on purpose)."""


def command_phrases() -> tuple[tuple[str, Command], ...]:
    """Every phrase of every command, and a few with polite words around them."""
    plain = tuple((phrase, command) for command in COMMANDS for phrase in PHRASES[command])
    polite = (
        ("pause please", "pause"),
        ("okay continue", "continue"),
        ("next please", "next"),
        ("okay stop", "stop"),
        ("please wait", "pause"),
    )
    return (*plain, *polite)  # type: ignore[return-value]


def _to_rate(x: npt.NDArray[np.float64], rate: int) -> Int16Array:
    """Resampled to RATE, the engine's leading and trailing silence cut (below -50 dBFS)."""
    loud = np.flatnonzero(np.abs(x) > 10 ** (-50 / 20))
    x = x[loud[0] : loud[-1] + 1] if len(loud) else x[:0]
    y = soxr.resample(x, rate, RATE) if rate != RATE else x
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


@functools.cache
def espeak(text: str, voice: Voice) -> Int16Array:
    """`text` said by the espeak-ng CLI, at 16 kHz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return _to_rate(pcm.astype(np.float64) / 32768, rate)


@functools.cache
def _natural(texts: tuple[str, ...], rate: int) -> tuple[Int16Array, ...]:
    from voiceguide.speech import open_engine

    with open_engine("natural") as engine:
        clips = list(engine.synthesize(texts, Settings(engine="natural", rate=rate)))
    return tuple(
        _to_rate(np.frombuffer(c.pcm, dtype="<i2").astype(np.float64) / 32768, c.sample_rate)
        for c in clips
    )


def natural(texts: Sequence[str], voice: Voice) -> list[Int16Array]:
    """`texts` said by voiceguide's natural engine, at 16 kHz (one engine start per call)."""
    return list(_natural(tuple(texts), voice.rate))


def speak(texts: Sequence[str], voice: Voice) -> list[Int16Array]:
    """`texts` said by `voice`, whichever engine it is."""
    if voice.name == "natural":
        return natural(texts, voice)
    return [espeak(text, voice) for text in texts]


def pink(n: int, seed: int) -> npt.NDArray[np.float64]:
    """Pink (1/f power) noise, unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spectrum / np.sqrt(f), n)
    return y / np.sqrt(np.mean(y**2))


def brown(n: int, seed: int) -> npt.NDArray[np.float64]:
    """Brown (1/f^2 power) noise, unit RMS, its slow drift taken out."""
    y = np.cumsum(np.random.default_rng(seed).normal(size=n))
    y -= np.convolve(y, np.ones(RATE // 20) / (RATE // 20), mode="same")
    return y / np.sqrt(np.mean(y**2))


def speech_rms(x: Int16Array) -> float:
    """RMS of the frames that hold speech (above -50 dBFS): the signal of an SNR."""
    frames = x[: len(x) // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    power = np.mean(frames**2, axis=1)
    loud = power[power > (32768 * 10 ** (-50 / 20)) ** 2]
    return float(np.sqrt(np.mean(loud))) if len(loud) else 0.0


def with_noise(x: Int16Array, snr_db: float, seed: int, kind: str = "pink") -> Int16Array:
    """`x` with pink or brown noise `snr_db` below its speech level."""
    noise = (pink if kind == "pink" else brown)(len(x), seed)
    level = speech_rms(x) * 10 ** (-snr_db / 20)
    return np.clip(np.round(x + noise * level), -32768, 32767).astype(np.int16)


def with_fan(
    x: Int16Array, snr_db: float, seed: int, before_s: float = 3.0
) -> tuple[Int16Array, int]:
    """`x` said in a room with a fan (pink noise `snr_db` below its speech level) running
    throughout, `before_s` of it before and after: the scene, and the sample where `x` ends.
    The segmenter's floor is then the fan's, as in a room."""
    quiet, ends = scene([x], gap_s=before_s, noise_db=-200)
    fan = pink(len(quiet), seed) * speech_rms(x) * 10 ** (-snr_db / 20)
    return np.clip(np.round(quiet + fan), -32768, 32767).astype(np.int16), ends[0]


def scene(
    utterances: Sequence[Int16Array],
    gap_s: float | Sequence[float] = 2.0,
    noise_db: float = -60.0,
    kind: str = "pink",
    seed: int = 0,
) -> tuple[Int16Array, list[int]]:
    """The utterances one after another over noise at `noise_db` dBFS, with the sample where
    each ends. Before each, `gap_s` of noise alone (one figure, or one per utterance); the
    last gap again at the end."""
    gaps = [gap_s] * len(utterances) if isinstance(gap_s, float | int) else list(gap_s)
    ends: list[int] = []
    at = 0
    for x, gap in zip(utterances, gaps, strict=True):
        at += int(gap * RATE) + len(x)
        ends.append(at)
    at += int(gaps[-1] * RATE) if gaps else 0
    speech = np.zeros(at, dtype=np.float64)
    for x, end in zip(utterances, ends, strict=True):
        speech[end - len(x) : end] = x
    noise = (pink if kind == "pink" else brown)(at, seed) * 32768 * 10 ** (noise_db / 20)
    total = np.clip(np.round(speech + noise), -32768, 32767).astype(np.int16)
    n = len(total) // FRAME * FRAME
    return total[:n], ends


def frames(x: Int16Array) -> list[Int16Array]:
    """`x` as the segmenter is fed it: 10 ms frames."""
    return [x[i : i + FRAME] for i in range(0, len(x) - FRAME + 1, FRAME)]


def with_rooms(
    x: Int16Array, segmenter: Segmenter | None = None
) -> list[tuple[Int16Array, Int16Array | None]]:
    """The utterances the segmenter hands on from `x`, fed as frames, each with the room's
    sound before it (`Segmenter.room`), as the listener gives them to the recognizer."""
    segmenter = segmenter or Segmenter()
    return [(u, segmenter.room()) for f in frames(x) if (u := segmenter.feed(f)) is not None]
