"""Sections 8 and 9: the speech engines side by side, in one run: intelligibility (pocketsphinx's
general English model, no grammar, on every cue of upper-back), words per minute heard at each
--rate, and the natural engine's cold and warm export against hibari itself (the floor)."""

from __future__ import annotations

import re
import sys
import time

from voiceguide.catalog import load_routine
from voiceguide.compiler import cue_texts
from voiceguide.config import Settings
from voiceguide.speech import open_engine, unavailable
from voiceguide.speech.rates import CALIBRATIONS

from .core import PYTHON, VOICEGUIDE, Context, Row, median, run, sample, seconds

ROUTINE = "upper-back"
RATES = (100, 150, 200, 250, 300)
WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")

FLOOR = """
import sys, time
start = time.perf_counter()
from hibari import Hibari
texts = open(sys.argv[1], encoding="utf-8").read().split("\\n")
tts = Hibari(threads=2)
for text in texts:
    tts(text, speed=float(sys.argv[2]), seed=0)
"""


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def _distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _wer(engine: str, texts: list[str]) -> float:
    """Word error rate of pocketsphinx's general English model over the engine's clips."""
    import numpy as np
    import pocketsphinx
    import soxr

    decoder = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL")
    errors = total = 0
    with open_engine(engine) as running:
        for text, clip in zip(
            texts, running.synthesize(texts, Settings(engine=engine)), strict=True
        ):
            x = np.frombuffer(clip.pcm, dtype="<i2").astype(np.float32) / 32768
            pad = np.zeros(8000, dtype=np.float32)
            y = soxr.resample(np.concatenate([pad, x, pad]), clip.sample_rate, 16000)
            decoder.start_utt()
            decoder.process_raw((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
            decoder.end_utt()
            heard = decoder.hyp().hypstr if decoder.hyp() is not None else ""
            said = _words(text)
            errors += _distance(said, _words(heard))
            total += len(said)
    return errors / total


def measure(ctx: Context) -> list[Row]:
    texts = list(dict.fromkeys(cue_texts(load_routine(ROUTINE))))
    installed = [e for e in ("natural", "espeak", "system") if unavailable(e) is None]
    rows: list[Row] = []
    section = "8. Speech engines (upper-back's cues)"
    for engine in installed:
        ctx.log(f"engines: {engine}: word error rate, words per minute")
        wer = _wer(engine, texts)
        target = "<= 20%" if engine == "natural" else ""
        met = wer <= 0.20 if engine == "natural" else None
        rows.append(
            Row(section, f"{engine}: pocketsphinx word error rate", 100 * wer, "%", target, met)
        )
        with open_engine(engine) as running:
            for rate in RATES:
                start = time.perf_counter()
                clips = list(running.synthesize(texts, Settings(rate=rate, engine=engine)))
                spent = time.perf_counter() - start
                audio = sum(c.frames / c.sample_rate for c in clips)
                wpm = sum(len(_words(t)) for t in texts) / audio * 60
                strict = rate in (100, 150, 200) and engine in ("natural", "espeak")
                rows.append(
                    Row(
                        section,
                        f"{engine}: --rate {rate}, words per minute heard",
                        wpm,
                        "wpm",
                        "within 5%" if strict else "",
                        abs(wpm / rate - 1) <= 0.05 if strict else None,
                        note=f"{audio / spent:.0f}x realtime (warm workers)",
                    )
                )
    if "natural" not in installed:
        return rows
    section = "9. Natural voice: cold export against hibari itself"
    work = ctx.tempdir("natural")
    cues = work / "cues.txt"
    cues.write_text("\n".join(texts), encoding="utf-8")
    speed = CALIBRATIONS["natural"].control(150)[0]
    out = work / "out.wav"
    command = [*VOICEGUIDE, "export", ROUTINE, "-o", str(out), "--engine", "natural"]
    runs = sample(
        {
            "floor": lambda: run([PYTHON, "-c", FLOOR, str(cues), str(speed)]),
            "cold": lambda: run(command, ctx.env(ctx.tempdir("nc"))),
            "warm": _warm_export_natural(ctx, command),
        },
        ctx.rounds(5, 2),
    )
    floor, cold, warm = (median(runs[k]) for k in ("floor", "cold", "warm"))
    return [
        *rows,
        Row(
            section,
            "hibari alone: load + unique cues, 2 threads",
            floor,
            "s",
            runs=seconds(runs["floor"]),
        ),
        Row(
            section,
            "voiceguide export --engine natural, cold",
            cold,
            "s",
            runs=seconds(runs["cold"]),
        ),
        Row(section, "cold / hibari alone", cold / floor, "x", "<= 1.0x", cold / floor <= 1.0),
        Row(
            section,
            "voiceguide export, warm",
            warm,
            "s",
            "<= 0.5 s",
            warm <= 0.5,
            runs=seconds(runs["warm"]),
        ),
    ]


def _warm_export_natural(ctx: Context, command: list[str]):  # type: ignore[no-untyped-def]
    env = ctx.env(ctx.tempdir("nw"))
    run(command, env)
    return lambda: run(command, env)


if __name__ == "__main__":
    sys.exit("run scripts/bench --only engines")
