"""Sections 8, 9 and 11: the speech engines side by side, in one run: intelligibility
(pocketsphinx's general English model, no grammar, on every cue of upper-back; the natural
voice as exported against hibari alone saying each whole cue), words per minute heard at each
--rate, the natural engine's cold and warm export against hibari itself (the floor), and a cold
export with espeak-ng against one espeak-ng call."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voiceguide.catalog import load_routine
from voiceguide.compiler import cue_texts
from voiceguide.config import Settings
from voiceguide.speech import open_engine, unavailable
from voiceguide.speech.rates import CALIBRATIONS

from .core import PYTHON, VOICEGUIDE, Context, Row, median, run, sample, seconds

ROUTINE = "upper-back"
HELD_OUT = Path(__file__).with_name("held_out_cues.txt")
"""60 cues in the routines' manner that no routine and no test has (three long enough to be
cut into pieces at --rate 150): the held-out check of product against voice alone."""
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


def _wer_of(texts: list[str], audio: Iterator[tuple[Any, int]]) -> float:
    """Word error rate of pocketsphinx's general English model (no grammar) over one clip per
    text: (float samples, their rate), each padded with half a second of silence."""
    import numpy as np
    import pocketsphinx
    import soxr

    decoder = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL")
    errors = total = 0
    for text, (x, rate) in zip(texts, audio, strict=True):
        pad = np.zeros(rate // 2, dtype=np.float32)
        y = soxr.resample(np.concatenate([pad, np.asarray(x, np.float32), pad]), rate, 16000)
        decoder.start_utt()
        decoder.process_raw((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        heard = decoder.hyp().hypstr if decoder.hyp() is not None else ""
        said = _words(text)
        errors += _distance(said, _words(heard))
        total += len(said)
    return errors / total


def _wer(engine: str, texts: list[str]) -> float:
    """Word error rate over the engine's clips, as an export has them (finished, leveled)."""
    import numpy as np

    with open_engine(engine) as running:
        clips = running.synthesize(texts, Settings(engine=engine))
        return _wer_of(
            texts,
            ((np.frombuffer(c.pcm, "<i2") / np.float32(32768), c.sample_rate) for c in clips),
        )


def _wer_voice_alone(texts: list[str]) -> float:
    """The same over hibari itself saying each whole cue at once (at the speed of --rate 150):
    what the natural voice is without voiceguide's pieces, joins and finishing."""
    from hibari import Hibari

    tts = Hibari(threads=2)
    speed = CALIBRATIONS["natural"].control(150)[0]
    return _wer_of(texts, ((tts(text, speed=speed, seed=0), tts.sample_rate) for text in texts))


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
        if engine == "natural":
            alone = _wer_voice_alone(texts)
            rows.append(
                Row(
                    section,
                    "natural: the same, hibari alone saying each whole cue",
                    100 * alone,
                    "%",
                    note="the voice without pieces or finishing",
                )
            )
            rows.append(
                Row(
                    section,
                    "natural: word error rate, product - hibari alone",
                    100 * (wer - alone),
                    "points",
                    "<= +0.5",
                    wer - alone <= 0.005,
                )
            )
            held = HELD_OUT.read_text(encoding="utf-8").splitlines()
            ctx.log(f"engines: natural: word error rate on {len(held)} held-out cues")
            difference = _wer("natural", held) - _wer_voice_alone(held)
            rows.append(
                Row(
                    section,
                    f"natural: the same on {len(held)} held-out cues, product - hibari alone",
                    100 * difference,
                    "points",
                    "<= +0.5",
                    difference <= 0.005,
                    note="cues no routine or test has (scripts/bench_lib/held_out_cues.txt)",
                )
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
    if "espeak" in installed:
        rows += _espeak_path(ctx, texts)
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


def _espeak_path(ctx: Context, texts: list[str]) -> list[Row]:
    """A cold export with espeak-ng speaking against espeak-ng's command line saying the same
    cue texts in one call: what the clips' finishing (trimming, leveling) costs on top."""
    section = "11. espeak-ng path: cold export against one espeak-ng call"
    work = ctx.tempdir("espeak")
    cues = work / "cues.txt"
    cues.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = work / "out.wav"
    command = [*VOICEGUIDE, "export", ROUTINE, "-o", str(out), "--engine", "espeak"]
    line = ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(work / "cli.wav"), "-f", str(cues)]
    runs = sample(
        {"cold": lambda: run(command, ctx.env(ctx.tempdir("ec"))), "cli": lambda: run(line)},
        ctx.rounds(7, 3),
    )
    cold, cli = median(runs["cold"]), median(runs["cli"])
    return [
        Row(section, "export --engine espeak, cold", cold, "s", runs=seconds(runs["cold"])),
        Row(section, "espeak-ng command line, one call", cli, "s", runs=seconds(runs["cli"])),
        Row(
            section,
            "cold espeak export / espeak-ng call",
            cold / cli,
            "x",
            "<= 2.0x",
            cold / cli <= 2.0,
        ),
    ]


def _warm_export_natural(ctx: Context, command: list[str]):  # type: ignore[no-untyped-def]
    env = ctx.env(ctx.tempdir("nw"))
    run(command, env)
    return lambda: run(command, env)


if __name__ == "__main__":
    sys.exit("run scripts/bench --only engines")
