"""Section 7, memory: the peak resident memory of export (FLAC and MP3) and of play, for a
routine of 260 distinct 80-word cues (about 2 hours 40 minutes with the natural voice, the
default, just under the 3-hour limit), against a bound that must not grow with the number or
length of the cues.

Export is measured whole, cold then warm; play (warm, through the virtual device of the
tests) runs until the whole routine has been made and handed to the device, then is
interrupted: its memory peaks there, not later. Each figure is the `wait4` peak of the
process, which includes no parent's peak (the children are spawned, not forked from us), and
the largest of its own reaped children: the speech workers.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

from .core import VOICEGUIDE, BenchError, Context, Row, run

SECTION = "7. Memory (260 distinct 80-word cues, natural voice)"
BOUND_MB = 250
CUES = 260
WORDS = 80
PLAY_S = 90
"""How long play runs before it is interrupted: the routine is made and rendered by then."""

_WORDS = [
    "slowly",
    "gently",
    "breathe",
    "lengthen",
    "soften",
    "shoulders",
    "ribs",
    "spine",
    "chest",
    "collarbones",
    "elbows",
    "wrists",
    "hands",
    "fingers",
    "neck",
    "jaw",
    "eyes",
    "forehead",
    "hips",
    "knees",
    "ankles",
    "feet",
    "floor",
    "chair",
    "wall",
    "towel",
    "mat",
    "turn",
    "reach",
    "roll",
    "lift",
    "lower",
    "draw",
    "open",
    "slide",
    "rest",
    "notice",
    "warmth",
    "weight",
    "space",
    "ease",
    "length",
    "width",
    "quiet",
    "steady",
    "calm",
    "loose",
    "heavy",
    "light",
    "back",
    "front",
    "side",
    "upper",
    "lower",
    "middle",
    "deeper",
    "wider",
    "longer",
    "easier",
    "smoother",
    "softer",
    "stillness",
    "rhythm",
    "pause",
    "wave",
    "tide",
    "current",
    "river",
    "stone",
    "cloud",
    "morning",
    "evening",
    "window",
    "garden",
    "path",
    "bridge",
    "field",
    "meadow",
    "forest",
    "valley",
    "harbour",
]


def write_routine(folder: Path, cues: int = CUES, words: int = WORDS, seed: int = 7) -> Path:
    """A routine of `cues` distinct spoken steps of `words` words each (deterministic)."""
    rng = random.Random(seed)
    per_technique = 10
    out = ['title = "Memory routine"', "transition = 2", ""]
    for t in range(cues // per_technique):
        steps = []
        for c in range(per_technique):
            text = " ".join(rng.choice(_WORDS) for _ in range(words - 2))
            say = json.dumps(f"Part {t * per_technique + c + 1}. {text}.")
            steps.append(f"  {{ say = {say} }},")
        out += ["[[technique]]", f'title = "Part {t + 1}"', "steps = [", *steps, "]", ""]
    path = folder / "memory.toml"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def _play_peak_mb(ctx: Context, routine: Path, env: dict[str, str]) -> float:
    """Peak memory of `play`, interrupted after PLAY_S seconds, on the virtual device."""
    import os

    from tests.audio_device import virtual_device

    from .player import _device_env

    with virtual_device() as device:
        play_env = _device_env(ctx, device, Path(env["XDG_CACHE_HOME"]))
        proc = subprocess.Popen(
            [*VOICEGUIDE, "play", str(routine), "--yes"],
            env=play_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(PLAY_S)
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise BenchError(f"play ended early: {err}")
        proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 130:
            raise BenchError(f"play exited {proc.returncode}")
    return usage.ru_maxrss / 1024


def measure(ctx: Context) -> list[Row]:
    work = ctx.tempdir("memory")
    routine = write_routine(work)
    env = ctx.env(work / "cache")
    rows: list[Row] = []

    def row(name: str, peak: float, note: str = "") -> None:
        target = f"<= {BOUND_MB} MB"
        rows.append(Row(SECTION, name, peak, "MB", target, peak <= BOUND_MB, note))

    for kind, suffix in (("cold", "flac"), ("warm", "flac"), ("warm", "mp3")):
        ctx.log(f"memory: {kind} export to {suffix}")
        out = work / f"out.{suffix}"
        result = run([*VOICEGUIDE, "export", str(routine), "-o", str(out)], env)
        row(
            f"peak memory, {kind} export to {suffix.upper()}",
            result.max_rss_mb,
            f"{result.seconds:.0f} s",
        )
    ctx.log(f"memory: play for {PLAY_S} s")
    row(f"peak memory, play (warm, first {PLAY_S} s)", _play_peak_mb(ctx, routine, env))
    return rows
