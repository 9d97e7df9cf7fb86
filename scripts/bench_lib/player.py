"""Section 4, the player, through the virtual PulseAudio device of the tests.

- Time to first sound: wall time from spawning `voiceguide play` to the first non-silent
  sample the device's recorder heard; cold (empty clip cache) and warm; and the same with
  `--listen` (the sink's monitor as the microphone), the recognizers loading beside the
  opening (cold: an empty cache, so Whisper's model is joined too).
- Ctrl-C: how long sound goes on after SIGINT, found where the recording stops following the
  routine's own audio.
- Timing accuracy: a whole routine played and recorded, every cue's onset located in the
  recording against the export's audio (after aligning the first), and the drift at its end.
  The default routine is the short test routine (about 2 minutes of real time); `--long` plays
  all of upper-back (about 15 minutes), which no 5-minute benchmark can.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voiceguide.clip import SAMPLE_RATE

from .core import ROOT, VOICEGUIDE, BenchError, Context, Row

if TYPE_CHECKING:
    from voiceguide.timeline import Timeline

SECTION = "4. Player (time to first sound, timing accuracy)"
SHORT = str(ROOT / "tests" / "routines" / "short.toml")
RATE = SAMPLE_RATE


def _device_env(ctx: Context, device: object, cache: Path) -> dict[str, str]:
    env = dict(device.env)  # type: ignore[attr-defined]
    env.update(ctx.env(cache))
    for key in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_SINK"):
        if key in device.env:  # type: ignore[attr-defined]
            env[key] = device.env[key]  # type: ignore[attr-defined]
    return env


@contextlib.contextmanager
def _cache(cache: Path) -> Iterator[None]:
    """Point this process's clip cache at `cache`, as the player's children see it."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous


def _reference(routine: str, cache: Path) -> tuple[Timeline, np.ndarray]:
    """The routine's timeline and audio as export renders them, from the player's clip cache."""
    from voiceguide import api
    from voiceguide.render import render

    with _cache(cache):
        prepared = api.prepare(routine)
    return prepared.timeline, render(prepared.timeline, prepared.clips)


def _start_and_interrupt(
    device: object,
    env: dict[str, str],
    reference: np.ndarray | None,
    listen: bool = False,
) -> tuple[float, float | None]:
    """Play upper-back, interrupt it after 3 s; (time to first sound, sound after SIGINT).
    `listen`: with --listen, the sink's monitor as the microphone (its recognizers load
    beside the first section)."""
    from tests.audio_device import find_offset, first_sound

    if listen:
        device.pactl("set-default-source", device.monitor)  # type: ignore[attr-defined]
    with device.record() as recorder:  # type: ignore[attr-defined]
        spawned = time.monotonic()
        proc = subprocess.Popen(
            [*VOICEGUIDE, "play", "upper-back", "--yes", *(["--listen"] if listen else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(3)
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    if proc.returncode != 130:
        raise BenchError(f"play exited {proc.returncode}: {err.decode()[-500:]}")
    recording = recorder.samples()
    first = recorder.started_at + first_sound(recording) / RATE - spawned
    if reference is None:
        return first, None
    start = find_offset(recording[: 8 * RATE], reference[:RATE])
    heard = recording[start:]
    differs = np.flatnonzero((heard[: len(reference)] != reference[: len(heard)]).any(axis=1))
    cut = int(differs[differs > RATE // 2][0])  # past the stream's first few zeroed ms
    return first, recorder.started_at + (start + cut) / RATE - interrupted


def _accuracy(
    device: object,
    env: dict[str, str],
    routine: str,
    cache: Path,
) -> tuple[float, float, int]:
    """(largest onset error ms, drift at the end ms, cues checked) over a whole routine."""
    from tests.audio_device import find_offset, locate

    timeline, reference = _reference(routine, cache)
    with device.record() as recorder:  # type: ignore[attr-defined]
        proc = subprocess.run(
            [*VOICEGUIDE, "play", routine, "--yes"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=timeline.duration / 1000 + 120,
        )
    if proc.returncode != 0:
        raise BenchError(f"play exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    recording = recorder.samples()
    first = find_offset(recording[: 20 * RATE], reference[: 5 * RATE])
    errors = []
    for e in timeline.events:
        if e.kind not in ("speech", "chime"):
            continue
        at = e.start * RATE // 1000
        piece = reference[at : at + min(e.duration * RATE // 1000, RATE // 2)]
        error, similarity = locate(recording, first + at, piece, search=RATE // 10)
        if similarity < 0.9:
            raise BenchError(f"cue at {e.start} ms not heard (similarity {similarity:.2f})")
        errors.append(error)
    largest = max(abs(x) for x in errors) * 1000 / RATE
    return largest, errors[-1] * 1000 / RATE, len(errors)


def measure(ctx: Context) -> list[Row]:
    from tests.audio_device import missing_tools, virtual_device

    if missing_tools():
        raise BenchError(f"the virtual device needs: {', '.join(missing_tools())}")
    rows: list[Row] = []
    with virtual_device(workdir=ctx.tempdir("device")) as device:
        runs = ctx.rounds(3, 1)
        cold, warm, stops = [], [], []
        listening: dict[str, list[float]] = {"cold": [], "warm": []}
        for _ in range(runs):
            cache = ctx.tempdir("cache")
            env = _device_env(ctx, device, cache)
            first, _ = _start_and_interrupt(device, env, None)
            cold.append(first)
            _, reference = _reference("upper-back", cache)  # now every clip is cached
            first, stop = _start_and_interrupt(device, env, reference)
            warm.append(first)
            if stop is not None:
                stops.append(stop)
            # with --listen: the first time Whisper's model is joined into the new cache
            cache = ctx.tempdir("cache")
            env = _device_env(ctx, device, cache)
            listening["cold"].append(_start_and_interrupt(device, env, None, listen=True)[0])
            _reference("upper-back", cache)
            listening["warm"].append(_start_and_interrupt(device, env, None, listen=True)[0])
        rows.append(
            Row(
                SECTION,
                "time to first sound, cold",
                statistics.median(cold),
                "s",
                "<= 1.0 s",
                statistics.median(cold) <= 1.0,
                runs=cold,
            )
        )
        rows.append(
            Row(
                SECTION,
                "time to first sound, warm",
                statistics.median(warm),
                "s",
                "<= 0.25 s",
                statistics.median(warm) <= 0.25,
                runs=warm,
            )
        )
        for kind, target in (("cold", 1.0), ("warm", 0.25)):
            median = statistics.median(listening[kind])
            rows.append(
                Row(
                    SECTION,
                    f"time to first sound, {kind}, --listen",
                    median,
                    "s",
                    f"<= {target} s",
                    median <= target,
                    runs=listening[kind],
                )
            )
        stop = statistics.median(stops) * 1000
        rows.append(
            Row(
                SECTION,
                "sound after Ctrl-C",
                stop,
                "ms",
                "well under 200 ms",
                stop < 200,
                runs=[s * 1000 for s in stops],
            )
        )
        routine = "upper-back" if ctx.long else SHORT
        largest, drift, cues = _accuracy(device, env, routine, cache)
        name = "upper-back" if ctx.long else "short test routine"
        rows.append(
            Row(
                SECTION,
                f"largest cue-onset error, {name}",
                largest,
                "ms",
                "<= 20 ms",
                largest <= 20,
                note=f"{cues} cues",
            )
        )
        rows.append(
            Row(
                SECTION, f"drift at the end, {name}", abs(drift), "ms", "<= 50 ms", abs(drift) <= 50
            )
        )
    return rows
