"""Section 12, listening: the segmenter and recognizer of `play --listen` fed 10 ms frames as
a microphone would, on speech made here (espeak-ng voices and the natural voice).

- share of one core: a long stretch of a brown-noise bed with a command every 20 s or so
  and some talk, fed at the frame rate; CPU time spent over audio time;
- latency: from the end of a spoken command to the recognizer's answer (the segmenter's
  hangover plus the decoding);
- detection: every phrase of every command, by each voice, clean, in pink noise at 10 dB
  under the words, and with a fan (pink noise) 10 dB below the voice running throughout; and
  the same by voices the tests do not use (held out);
- false actions: every cue of every built-in routine, said by each voice with pauses of
  0.3-3 s between cues (many cues stand alone, as a command would), and a few minutes of
  short conversation: any command heard is a false action.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from voiceguide.catalog import load_routine
from voiceguide.compiler import cue_texts
from voiceguide.listen.commands import command_of
from voiceguide.listen.recognizer import Recognizer
from voiceguide.listen.segmenter import FRAME, RATE, Segmenter
from voiceguide.speech import unavailable

from .core import Context, Row

SECTION = "12. Listening (segmenter + recognizer, 10 ms frames)"
KINDS = {"clean": 95.0, "pink 10 dB": 85.0, "fan 10 dB": 85.0}
"""How a command is heard, and the share of them that must be."""
ROUTINES = ("upper-back", "floor", "desk-break")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _listen(
    recognizer: Recognizer, x: np.ndarray
) -> tuple[list[tuple[int, str | None, float]], float]:
    """Feed `x` frame by frame: (sample where the answer came, command, seconds decoding)
    for each utterance, and the CPU seconds spent in all."""
    segmenter = Segmenter()
    heard: list[tuple[int, str | None, float]] = []
    cpu = time.process_time()
    for i in range(0, len(x) - FRAME + 1, FRAME):
        utterance = segmenter.feed(x[i : i + FRAME])
        if utterance is not None:
            start = time.perf_counter()
            command = recognizer.recognize(utterance, segmenter.room())
            heard.append((i + FRAME, command, time.perf_counter() - start))
    return heard, time.process_time() - cpu


def _voices() -> list[object]:
    from tests import listen_audio as audio

    voices: list[audio.Voice] = list(audio.ESPEAK_VOICES[:3])
    if unavailable("natural") is None:
        voices.append(audio.NATURAL_VOICES[0])
    return voices  # type: ignore[return-value]


def _held_out() -> list[object]:
    """Voices and rates no test uses."""
    from tests import listen_audio as audio

    voices = [audio.Voice("en-us+m3", 150), audio.Voice("en-gb-scotland", 150)]
    if unavailable("natural") is None:
        voices.append(audio.Voice("natural", 120))
    return voices  # type: ignore[return-value]


def _said(audio: Any, clip: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, int]:
    """A command as the microphone hears it, and the sample where it ends: alone in a quiet
    room, with pink noise 10 dB below it under its words only, or with a fan 10 dB below it
    running throughout (3 s before it, so the segmenter's floor is the fan's)."""
    if kind == "clean":
        x, ends = audio.scene([clip], gap_s=1.5)
    elif kind == "pink 10 dB":
        x, ends = audio.scene([audio.with_noise(clip, 10.0, seed=seed)], gap_s=1.5)
    else:
        return audio.with_fan(clip, 10.0, seed=seed)
    return x, ends[0]


def _detection(
    ctx: Context, recognizer: Recognizer, voices: Sequence[object], label: str = ""
) -> tuple[list[Row], list[float]]:
    from tests import listen_audio as audio

    phrasings = audio.command_phrases()
    rows: list[Row] = []
    latencies: list[float] = []
    totals = {kind: [0, 0] for kind in KINDS}
    for voice in voices:
        assert isinstance(voice, audio.Voice)
        clips = audio.speak([p for p, _ in phrasings], voice)
        for kind in totals:
            right = 0
            for i, ((_, command), clip) in enumerate(zip(phrasings, clips, strict=True)):
                x, end = _said(audio, clip, kind, seed=i)
                heard, _ = _listen(recognizer, x)
                hit = [h for h in heard if h[1] == command]
                right += len(hit) == 1 and len(heard) == 1
                if kind == "clean" and hit:
                    at, _, decoding = hit[0]
                    latencies.append((at - end) / RATE + decoding)
            totals[kind][0] += right
            totals[kind][1] += len(phrasings)
            rows.append(
                Row(SECTION, f"detection, {kind}, {voice}", 100 * right / len(phrasings), "%")
            )
        ctx.log(f"listening: detection, {voice}")
    for kind, target in KINDS.items():
        right, n = totals[kind]
        share = 100 * right / n
        rows.append(
            Row(
                SECTION,
                f"detection, {kind}, {len(voices)} voices{label}",
                share,
                "%",
                f">= {target:.0f}%",
                share >= target,
                note=f"{right} of {n} phrasings",
            )
        )
    return rows, latencies


def _false_actions(
    ctx: Context, recognizer: Recognizer, voices: Sequence[object]
) -> tuple[Row, Row]:
    from tests import listen_audio as audio

    cues = sorted({c for r in ROUTINES for c in cue_texts(load_routine(r))})
    cues = [c for c in cues if command_of(c) is None]
    seconds = 0.0
    utterances = 0
    false: list[str] = []
    for n, voice in enumerate(voices):
        assert isinstance(voice, audio.Voice)
        for texts, gaps in (
            (cues, np.random.default_rng(n).uniform(0.3, 3.0, len(cues))),
            (list(audio.CONVERSATION), [2.0] * len(audio.CONVERSATION)),
        ):
            x, _ = audio.scene(audio.speak(texts, voice), gap_s=list(gaps), noise_db=-60)
            heard, _ = _listen(recognizer, x)
            seconds += len(x) / RATE
            utterances += len(heard)
            false += [f"{voice}: {c}" for _, c, _ in heard if c is not None]
        ctx.log(f"listening: false actions, {voice}: {len(false)} so far")
    note = f"{seconds / 60:.1f} min of cues and talk, {utterances} utterances decoded"
    if false:
        note += "; heard: " + ", ".join(false[:8])
    return (
        Row(SECTION, "false actions, no command said", len(false), "", "0", not false, note),
        Row(SECTION, "utterances per minute of such speech", utterances / (seconds / 60), "/min"),
    )


def _cpu(ctx: Context, recognizer: Recognizer, voices: Sequence[object]) -> Row:
    """A bed with a command every ~20 s and a sentence of talk between: CPU over audio time."""
    from tests import listen_audio as audio

    voice = voices[0]
    assert isinstance(voice, audio.Voice)
    minutes = 2 if ctx.quick else 5
    said = audio.speak(
        ["pause", "Now lean a little to the right.", "ten more seconds", "That feels good."],
        voice,
    )
    count = minutes * 60 // 10
    parts = [said[i % len(said)] for i in range(count)]
    x, _ = audio.scene(parts, gap_s=8.0, noise_db=-45, kind="brown", seed=7)
    heard, cpu = _listen(recognizer, x)
    share = 100 * cpu / (len(x) / RATE)
    return Row(
        SECTION,
        "share of one core, listening",
        share,
        "%",
        "<= 5%",
        share <= 5.0,
        note=f"{len(x) / RATE / 60:.1f} min of audio, {len(heard)} utterances decoded",
    )


def measure(ctx: Context) -> list[Row]:
    before = _rss_mb()
    recognizer = Recognizer()
    rows = [
        Row(SECTION, "recognizer load (pocketsphinx and Whisper)", recognizer.load_seconds, "s"),
        Row(SECTION, "recognizer memory (resident, added)", _rss_mb() - before, "MB"),
    ]
    voices = _voices()
    rows.append(_cpu(ctx, recognizer, voices))
    detection, latencies = _detection(ctx, recognizer, voices)
    median = statistics.median(latencies) if latencies else float("inf")
    rows.append(
        Row(
            SECTION,
            "latency, end of command to answer, median",
            median,
            "s",
            "<= 0.5 s",
            median <= 0.5,
            note=f"max {max(latencies, default=0):.2f} s over {len(latencies)} commands",
        )
    )
    rows += detection
    rows += _detection(ctx, recognizer, _held_out(), ", held out")[0]
    rows += _false_actions(ctx, recognizer, voices)
    return rows
