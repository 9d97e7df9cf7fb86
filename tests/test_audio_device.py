"""The virtual audio device really carries simpleaudio output, sample for sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .audio_device import (
    SAMPLE_RATE,
    Int16Array,
    VirtualDevice,
    find_offset,
    first_sound,
    onsets,
)

TOLERANCE = SAMPLE_RATE // 50  # 20 ms = 480 samples
LEAD_IN = 0.06  # PulseAudio may zero the first ~3-8 ms of a fresh stream
GAP = 0.15
TONES = ((440.0, 0.25), (660.0, 0.20), (990.0, 0.30), (1320.0, 0.15))

# Runs in a subprocess with the device's environment, so this test process never
# initialises ALSA.  Prints monotonic timestamps (CLOCK_MONOTONIC is system-wide).
PLAY_SCRIPT = """
import json, sys, time
import numpy as np
import simpleaudio
buf = np.fromfile(sys.argv[1], dtype=np.int16)
called = time.monotonic()
play = simpleaudio.play_buffer(buf.tobytes(), 1, 2, 24000)
play.wait_done()
done = time.monotonic()
print(json.dumps({"called": called, "done": done}))
"""

# Plays into a device that does not exist; optionally silences ALSA's stderr spam
# with an snd_lib_error_set_handler callback (libasound.so.2 is the same instance
# simpleaudio is linked against).
NO_DEVICE_SCRIPT = """
import ctypes, sys
import simpleaudio
from simpleaudio._simpleaudio import SimpleaudioError
if sys.argv[1] == "silenced":
    handler_type = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )
    keep_alive = handler_type(lambda *args: None)
    ctypes.CDLL("libasound.so.2").snd_lib_error_set_handler(keep_alive)
try:
    simpleaudio.play_buffer(bytes(4800), 1, 2, 24000).wait_done()
except SimpleaudioError as exc:
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(3)
print("played")
"""


def _tone(freq: float, seconds: float) -> Int16Array:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)


def _silence(seconds: float) -> Int16Array:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def _test_buffer() -> tuple[Int16Array, list[int]]:
    """~1.5 s: lead-in, four distinct tones with silent gaps. Returns (buffer, onsets)."""
    parts = [_silence(LEAD_IN)]
    starts = []
    position = len(parts[0])
    for i, (freq, seconds) in enumerate(TONES):
        if i:
            parts.append(_silence(GAP))
            position += len(parts[-1])
        starts.append(position)
        parts.append(_tone(freq, seconds))
        position += len(parts[-1])
    parts.append(_silence(1.5 - position / SAMPLE_RATE))
    return np.concatenate(parts), starts


def _no_device_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        PULSE_SERVER=f"unix:{tmp_path / 'no-such-server'}",
    )
    return env


# ----------------------------------------------------------------- analysis helpers


def test_find_offset_locates_an_embedded_reference() -> None:
    rng = np.random.default_rng(7)
    reference = rng.integers(-20000, 20000, 3000).astype(np.int16)
    recording = np.zeros(50_000, dtype=np.int16)
    recording[12_345 : 12_345 + reference.size] = reference
    assert find_offset(recording, reference) == 12_345
    with pytest.raises(ValueError):
        find_offset(reference, recording)


def test_first_sound_and_onsets() -> None:
    buffer, starts = _test_buffer()
    assert first_sound(buffer) == starts[0] + 1  # sin() starts at exactly 0
    assert onsets(buffer, min_gap=TOLERANCE) == [s + 1 for s in starts]
    assert first_sound(np.array([0, -5, 9], dtype=np.int16), threshold=6) == 2
    with pytest.raises(ValueError):
        first_sound(_silence(0.1))


# ----------------------------------------------------------------- real device


@pytest.mark.device
def test_simpleaudio_playback_is_recorded_bit_exactly(
    audio_device: VirtualDevice, tmp_path: Path
) -> None:
    buffer, starts = _test_buffer()
    raw = tmp_path / "buffer.s16"
    buffer.tofile(raw)

    with audio_device.record("simpleaudio-tones") as recorder:
        child = subprocess.run(
            [sys.executable, "-c", PLAY_SCRIPT, str(raw)],
            env=audio_device.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    times = json.loads(child.stdout)
    recording = recorder.samples()

    offset = find_offset(recording, buffer)
    assert np.array_equal(recording[:, 0], recording[:, 1]), "mono is copied to both channels"
    segment = recording[offset : offset + buffer.size, 0]
    assert segment.size == buffer.size, "recording ends before the buffer does"
    mismatches = np.flatnonzero(segment != buffer)
    assert mismatches.size == 0, (
        f"{mismatches.size} samples differ at offset {offset} "
        f"(first at {mismatches[0]}); recording in {recorder.path}"
    )

    heard = onsets(recording, min_gap=TOLERANCE)
    assert len(heard) == len(starts), f"expected {len(starts)} tones, heard {heard}"
    for expected, got in zip(starts, heard, strict=True):
        assert abs((got - heard[0]) - (expected - starts[0])) <= TOLERANCE

    # Latency from play_buffer() to the first tone, minus the lead-in; recorder.started_at
    # is taken just after the stream connected, so this slightly over-estimates.
    first_tone_at = recorder.started_at + first_sound(recording) / SAMPLE_RATE
    latency = first_tone_at - times["called"] - starts[0] / SAMPLE_RATE
    print(  # shown with -rP / -s
        f"device start-up {audio_device.startup_seconds * 1000:.0f} ms, "
        f"play_buffer -> first sound {latency * 1000:.1f} ms, "
        f"wait_done after {times['done'] - times['called']:.3f} s for "
        f"{buffer.size / SAMPLE_RATE:.3f} s of audio"
    )
    # Without the keep-alive recorder on the monitor this is 1-2 s.
    assert latency < 0.5, f"play_buffer -> sound took {latency:.3f} s"
    assert times["done"] - times["called"] < buffer.size / SAMPLE_RATE + 0.5


@pytest.mark.parametrize("mode", ["noisy", "silenced"])
def test_playback_without_device_fails_detectably(tmp_path: Path, mode: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", NO_DEVICE_SCRIPT, mode],
        env=_no_device_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 3, (child.stdout, child.stderr)
    assert child.stdout.startswith("SimpleaudioError: Error opening PCM device."), child.stdout
    if mode == "noisy":
        assert "ALSA lib" in child.stderr
    else:
        assert child.stderr == ""
