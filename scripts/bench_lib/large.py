"""Section 10, large inputs: thousands of the user's own technique files (`list`, and `show`
of one of them), a chart of a routine of 500 techniques, and an export under a bed of a minute
at 192 kHz. Each figure is a whole process: time from spawn to exit, and peak memory (`wait4`,
the process or its largest reaped child)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .core import (
    PYTHON,
    ROOT,
    VOICEGUIDE,
    BenchError,
    Context,
    Row,
    Run,
    median,
    run,
    sample,
    seconds,
)

SECTION = "10. Large inputs (your techniques, a chart, a bed)"
USER_TECHNIQUES = (3000, 10_000)
CHART_TECHNIQUES = 500
BED_RATE, BED_S = 192_000, 60


def _env(config: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(config), XDG_CACHE_HOME=str(cache))
    env.pop("PYTHONPATH", None)
    return env


def _user_techniques(config: Path, count: int) -> None:
    """`count` technique files: the built-ins' own text, retitled."""
    folder = config / "voiceguide" / "techniques"
    folder.mkdir(parents=True)
    sources = [p.read_text() for p in sorted((ROOT / "voiceguide/library/techniques").iterdir())]
    for n in range(count):
        text = sources[n % len(sources)]
        first = text.split("\n", 1)[0]
        (folder / f"mine-{n:05d}.toml").write_text(text.replace(first, f'title = "Mine {n}"', 1))


def _listing(ctx: Context) -> list[Row]:
    variants: dict[str, Callable[[], Run]] = {}
    for count in (0, *USER_TECHNIQUES):
        work = ctx.tempdir(f"techniques-{count}")
        config, cache = work / "config", work / "cache"
        config.mkdir()
        if count:
            _user_techniques(config, count)
        env = _env(config, cache)

        def cold(env: dict[str, str] = env, cache: Path = cache) -> Run:
            shutil.rmtree(cache, ignore_errors=True)  # no index: every file read
            return run([*VOICEGUIDE, "list"], env)

        variants[f"cold {count}"] = cold
        variants[f"warm {count}"] = lambda env=env: run([*VOICEGUIDE, "list"], env)
        variants[f"show {count}"] = lambda env=env, count=count: run(
            [*VOICEGUIDE, "show", f"mine-{count // 2:05d}" if count else "self-hug", "--estimate"],
            env,
        )
    runs = sample(variants, ctx.rounds(3, 1))
    rows = []
    for count in (0, *USER_TECHNIQUES):
        for kind, what in (
            ("cold", "`list`, no index yet"),
            ("warm", "`list`, the index kept"),
            ("show", "`show ONE --estimate`"),
        ):
            rows.append(
                Row(
                    SECTION,
                    f"{what}, {count} technique files of yours",
                    median(runs[f"{kind} {count}"]),
                    "s",
                    runs=seconds(runs[f"{kind} {count}"]),
                )
            )
    return rows


def _chart(ctx: Context) -> list[Row]:
    work = ctx.tempdir("chart")
    lines = [f'title = "{CHART_TECHNIQUES} parts"', "transition = 0"]
    for n in range(CHART_TECHNIQUES):
        lines += [
            "[[technique]]",
            f'title = "Part {n} of a long routine"',
            f'steps = [{{ say = "Part {n}." }}, {{ hold = 5 }}, {{ breathe = "in", seconds = 3 }}]',
        ]
    routine = work / "many.toml"
    routine.write_text("\n".join(lines) + "\n")
    out = work / "many.png"
    env = _env(work / "config", work / "cache")
    command = [*VOICEGUIDE, "show", str(routine), "--estimate", "--chart", str(out)]
    runs = sample({"chart": lambda: run(command, env)}, ctx.rounds(3, 1))["chart"]
    height = _png_height(out)
    return [
        Row(
            SECTION,
            f"chart of {CHART_TECHNIQUES} techniques, PNG",
            median(runs),
            "s",
            runs=seconds(runs),
        ),
        Row(
            SECTION,
            f"chart of {CHART_TECHNIQUES} techniques, peak memory",
            max(r.max_rss_mb for r in runs),
            "MB",
        ),
        Row(SECTION, f"chart of {CHART_TECHNIQUES} techniques, height", height, "px"),
    ]


def _png_height(path: Path) -> int:
    data = path.read_bytes()[16:24]  # the IHDR chunk: width, height
    return int.from_bytes(data[4:8], "big")


_MAKE_BED = """
import sys, numpy as np, soundfile as sf
rate, seconds = int(sys.argv[2]), int(sys.argv[3])
tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(rate * seconds) / rate)).astype(np.float32)
sf.write(sys.argv[1], np.stack([tone, tone], axis=1), rate, "PCM_16")
"""


def _peak_mb(command: list[str], env: dict[str, str]) -> float:
    """The largest peak of the process and its speech workers (VmHWM, since each one's exec:
    `wait4` would hand this process's own peak on to a child)."""
    from tests.memory_probe import watch

    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = watch(proc)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(command)} exited {proc.returncode}:\n{err.decode()[-2000:]}")
    return peak


def _bed(ctx: Context) -> list[Row]:
    work = ctx.tempdir("bed")
    bed = work / "bed192.wav"
    subprocess.run([PYTHON, "-c", _MAKE_BED, str(bed), str(BED_RATE), str(BED_S)], check=True)
    routine = work / "short.toml"
    shutil.copy(ROOT / "tests" / "routines" / "short.toml", routine)
    env = _env(work / "config", work / "cache")
    command = [*VOICEGUIDE, "export", str(routine), "-o", str(work / "out.flac")]
    command += ["--engine", "espeak", "--ambience"]
    peaks: dict[str, list[float]] = {"shipped": [], "file": []}
    for _ in range(ctx.rounds(3, 1) + 1):  # the first round makes the speech: not counted
        for name, ambience in (("shipped", "brown-noise"), ("file", str(bed))):
            peaks[name].append(_peak_mb([*command, ambience], env))
    shipped, file = max(peaks["shipped"][1:]), max(peaks["file"][1:])
    return [
        Row(
            SECTION,
            f"export of short.toml, peak memory, a {BED_S} s {BED_RATE // 1000} kHz stereo bed",
            file,
            "MB",
            note=f"with a shipped bed: {shipped:.0f} MB (the process and its workers, /proc)",
        ),
    ]


def measure(ctx: Context) -> list[Row]:
    return [*_listing(ctx), *_chart(ctx), *_bed(ctx)]
