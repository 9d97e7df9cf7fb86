"""The measurements of the performance issue, one function per section of the table.

Numbering follows the issue: 1 cold export vs baselines, 2 warm export, 3 start-up,
4 player (a hook, see player.py), 6 scale.
"""

from __future__ import annotations

import functools
import json
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

from voiceguide.catalog import load_routine
from voiceguide.compiler import cue_texts
from voiceguide.config import DEFAULT_RATE, DEFAULT_VOICE

from .core import PYTHON, VOICEGUIDE, Context, Row, Run, median, run, sample, seconds
from .routines import distinct_cues, write_routine

NAIVE = str(Path(__file__).with_name("naive_pyttsx3.py"))
ROUTINE = "upper-back"
DEFAULT_SPEAKS = "the natural voice: targets in sections 9 and 11"


def _audio_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _cold_export(ctx: Context, routine: str, out: Path) -> Callable[[], Run]:
    """An export with a new, empty clip cache every time it is called."""
    return lambda: run([*VOICEGUIDE, "export", routine, "-o", str(out)], ctx.env(ctx.tempdir("c")))


def _warm_export(ctx: Context, routine: str, out: Path) -> Callable[[], Run]:
    """An export whose clip cache was filled once, beforehand, by a cold export."""
    env = ctx.env(ctx.tempdir("warm"))
    run([*VOICEGUIDE, "export", routine, "-o", str(out)], env)
    return lambda: run([*VOICEGUIDE, "export", routine, "-o", str(out)], env)


def _probe(path: Path) -> dict[str, str]:
    """ffprobe's word on an export's stream: its sample rate and bit rate."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    stream: dict[str, str] = json.loads(out)["streams"][0]
    return stream


def export(ctx: Context) -> list[Row]:
    """Sections 1 and 2: `upper-back` to WAV, cold and warm, against two baselines speaking the
    same cue texts with the same voice and rate; and warm to MP3 (stereo and mono), against
    the warm WAV. One sampling loop, so the ratios compare runs made under the same load."""
    texts = cue_texts(load_routine(ROUTINE))
    work = ctx.tempdir("export")
    cues = work / "cues.txt"
    cues.write_text("\n".join(texts) + "\n", encoding="utf-8")
    voice, rate = DEFAULT_VOICE, str(DEFAULT_RATE)
    out = {name: work / f"{name}.wav" for name in ("cold", "warm", "espeak", "naive")}
    out["mp3"], out["mp3 mono"] = work / "warm.mp3", work / "mono.mp3"
    ctx.log(f"export: {ROUTINE}, {len(texts)} cues, voice {voice}, rate {rate}")
    warm_env = ctx.env(ctx.tempdir("warm"))
    run([*VOICEGUIDE, "export", ROUTINE, "-o", str(out["warm"])], warm_env)  # fills the cache

    def warm(name: str, *extra: str) -> Callable[[], Run]:
        command = [*VOICEGUIDE, "export", ROUTINE, "-o", str(out[name]), *extra]
        return lambda: run(command, warm_env)

    runs = sample(
        {
            "cold": _cold_export(ctx, ROUTINE, out["cold"]),
            "warm": warm("warm"),
            "mp3": warm("mp3"),
            "mp3 mono": warm("mp3 mono", "--mono"),
            "espeak": lambda: run(
                ["espeak-ng", "-v", voice, "-s", rate, "-w", str(out["espeak"]), "-f", str(cues)]
            ),
            "naive": lambda: run([PYTHON, NAIVE, str(cues), str(out["naive"]), voice, rate]),
        },
        ctx.rounds(7, 3),
    )
    cold, warm_s = median(runs["cold"]), median(runs["warm"])
    espeak, naive = median(runs["espeak"]), median(runs["naive"])
    one = "1. Cold export of upper-back to WAV, empty cache"
    two = "2. Warm export (every clip cached)"

    def audio(name: str) -> str:
        return f"{_audio_seconds(out[name]):.0f} s of audio"

    rows = [
        Row(
            one,
            "voiceguide export, cold",
            cold,
            "s",
            note=f"{audio('cold')}, {len(texts)} cues",
            runs=seconds(runs["cold"]),
        ),
        Row(
            one,
            "espeak-ng CLI, all cues, one call",
            espeak,
            "s",
            note=audio("espeak"),
            runs=seconds(runs["espeak"]),
        ),
        Row(
            one,
            "pyttsx3 naive loop + concatenate",
            naive,
            "s",
            note=audio("naive"),
            runs=seconds(runs["naive"]),
        ),
        # the default voice is a neural model: its target is against itself (section 9,
        # "cold / hibari alone"), espeak-ng's against one espeak-ng call (section 11)
        Row(one, "cold / espeak-ng CLI", cold / espeak, "x", note=DEFAULT_SPEAKS),
        Row(one, "speed-up over naive pyttsx3", naive / cold, "x", note=DEFAULT_SPEAKS),
        Row(two, "voiceguide export, warm", warm_s, "s", runs=seconds(runs["warm"])),
        Row(two, "warm / cold", warm_s / cold, "x", "<= 0.25x", warm_s / cold <= 0.25),
    ]
    mp3, mono = median(runs["mp3"]), median(runs["mp3 mono"])
    three = "2b. MP3 at phone quality (warm) and the render rate"
    rendered = int(_probe(out["warm"])["sample_rate"])
    kbps = {name: int(_probe(out[name])["bit_rate"]) / 1000 for name in ("mp3", "mp3 mono")}
    stereo_kbps, mono_kbps = kbps["mp3"], kbps["mp3 mono"]
    rows += [
        Row(three, "render rate (WAV export)", rendered, "Hz", ">= 24000 Hz", rendered >= 24000),
        Row(three, "MP3 bit rate, stereo", stereo_kbps, "kb/s", "> 64 kb/s", stereo_kbps > 64),
        Row(three, "MP3 bit rate, mono", mono_kbps, "kb/s", ">= 64 kb/s", mono_kbps >= 64),
        Row(three, "export to MP3, stereo, warm", mp3, "s", runs=seconds(runs["mp3"])),
        Row(three, "export to MP3, mono, warm", mono, "s", runs=seconds(runs["mp3 mono"])),
        Row(three, "MP3 stereo / WAV, warm", mp3 / warm_s, "x", "<= 3x", mp3 / warm_s <= 3),
        Row(three, "MP3 mono / WAV stereo, warm", mono / warm_s, "x", "<= 3x", mono / warm_s <= 3),
    ]
    return rows


def startup(ctx: Context) -> list[Row]:
    """Section 3: commands that should feel instant, against bare interpreter start-up.
    `show` without --estimate reads every clip from a warm cache."""
    section = "3. Start-up (python -m voiceguide ...)"
    cache = ctx.tempdir("startup")
    env = ctx.env(cache)
    run([*VOICEGUIDE, "export", ROUTINE, "-o", str(cache / "prime.wav")], env)
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "--help": [*VOICEGUIDE, "--help"],
        "list": [*VOICEGUIDE, "list"],
        f"show {ROUTINE} --estimate": [*VOICEGUIDE, "show", ROUTINE, "--estimate"],
        f"show {ROUTINE} (warm cache)": [*VOICEGUIDE, "show", ROUTINE],
        f"show {ROUTINE} --json (warm cache)": [*VOICEGUIDE, "show", ROUTINE, "--json"],
    }
    runs = sample(
        {name: functools.partial(run, cmd, env) for name, cmd in commands.items()},
        ctx.rounds(15, 5),
    )
    bare = median(runs["python -c pass"])
    limit = 2 * bare + 0.15
    rows = [Row(section, "python -c pass", bare, "s", runs=seconds(runs["python -c pass"]))]
    for name in list(commands)[1:]:
        value = median(runs[name])
        target = f"<= 2 x pass + 0.15 s = {limit:.3f} s"
        rows.append(
            Row(section, name, value, "s", target, value <= limit, runs=seconds(runs[name]))
        )
    for name in ("list", f"show {ROUTINE} --json (warm cache)"):
        value = median(runs[name])
        rows.append(Row(section, f"{name}, absolute", value, "s", "<= 0.3 s", value <= 0.3))
    return rows


SIZES = (5, 15, 60)
LINEAR = 1.2
"""Linear growth: a minute of the 60-minute routine may cost at most this much more than a
minute of the 5-minute one (fixed start-up costs make the short routine dearer per minute)."""
MEMORY_MB = 200


def scale(ctx: Context) -> list[Row]:
    """Section 6: generated routines of about 5, 15 and 60 minutes, cold and warm; cost per
    routine-minute, and the peak memory of the longest export."""
    section = "6. Scale (generated routines, distinct cue texts)"
    work = ctx.tempdir("scale")
    variants: dict[str, Callable[[], Run]] = {}
    info: dict[int, tuple[Path, str]] = {}
    for minutes in SIZES:
        path, routine = write_routine(work, minutes)
        distinct, spoken = distinct_cues(routine)
        info[minutes] = (work / f"out-{minutes}.wav", f"{distinct} distinct cues of {spoken}")
        variants[f"cold {minutes}"] = _cold_export(ctx, str(path), info[minutes][0])
        ctx.log(f"scale: priming the cache for the {minutes}-minute routine")
        variants[f"warm {minutes}"] = _warm_export(ctx, str(path), info[minutes][0])
    runs = sample(variants, ctx.rounds(3, 1))
    rows: list[Row] = []
    per_minute: dict[str, float] = {}
    for kind in ("cold", "warm"):
        for minutes in SIZES:
            out, cues = info[minutes]
            length = _audio_seconds(out) / 60
            total = median(runs[f"{kind} {minutes}"])
            per_minute[f"{kind} {minutes}"] = total / length
            rows.append(
                Row(
                    section,
                    f"{kind}, {minutes}-minute routine",
                    total / length,
                    "s/min",
                    note=f"{total:.2f} s for {length:.1f} min; {cues}",
                    runs=seconds(runs[f"{kind} {minutes}"]),
                )
            )
    for kind in ("cold", "warm"):
        ratio = per_minute[f"{kind} {SIZES[-1]}"] / per_minute[f"{kind} {SIZES[0]}"]
        rows.append(
            Row(
                section,
                f"{kind}: per-minute cost, {SIZES[-1]} / {SIZES[0]} min",
                ratio,
                "x",
                f"<= {LINEAR}x (linear)",
                ratio <= LINEAR,
            )
        )
    for kind in ("cold", "warm"):
        peak = max(r.max_rss_mb for r in runs[f"{kind} {SIZES[-1]}"])
        rows.append(
            Row(
                section,
                f"peak memory, {SIZES[-1]}-minute export, {kind}",
                peak,
                "MB",
                f"<= {MEMORY_MB} MB (max RSS, largest process)",
                peak <= MEMORY_MB,
            )
        )
    return rows
