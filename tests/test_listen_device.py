"""`voiceguide play --listen` through a real (virtual) microphone: the PulseAudio null sink
the guide plays into is also the default source, so the microphone hears the guide itself
(looped back) and whatever `paplay` says into the same sink, as a person in the room would.

The commands are said by the natural voice (SPEAKER), the guide is espeak-ng; the recording
of the sink shows what the listener did to the routine.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voiceguide import api
from voiceguide.listen.segmenter import RATE
from voiceguide.timeline import Section, Timeline

from .audio_device import Recorder, VirtualDevice
from .listen_audio import Voice, speak

pytestmark = [pytest.mark.device, pytest.mark.speech, pytest.mark.timeout(600)]
REPO = Path(__file__).parent.parent

ROUTINE = """\
title = "Listening test"
transition = 1

[[technique]]
title = "Long hold"
position = "Sit tall."
steps = [{ hold = 24, say = "Hold, and breathe easily." }, { say = "Release." }]

[[technique]]
title = "Second hold"
steps = [{ hold = 22, say = "Hold again." }, { say = "Release." }]
"""
CHOICES = api.Options(engine="espeak", detail="brief", mono=True, listen=True)
ARGS = ("--yes", "--listen", "--engine", "espeak", "--detail", "brief", "--mono")


@pytest.fixture
def routine(tmp_path: Path) -> Path:
    path = tmp_path / "listening.toml"
    path.write_text(ROUTINE)
    return path


@pytest.fixture
def microphone(audio_device: VirtualDevice) -> Iterator[VirtualDevice]:
    """The sink's monitor as the default source: the microphone hears the room's sink."""
    audio_device.pactl("set-default-source", audio_device.monitor)
    yield audio_device


SPEAKER = Voice("natural", 170)
"""Who speaks in the room: the natural voice, at a speed the recognizer's tests do not use;
the guide is espeak-ng."""


def said(device: VirtualDevice, folder: Path, text: str, name: str) -> Path:
    """`text` said by SPEAKER, as a WAV for paplay (which converts it to the sink's rate)."""
    (samples,) = speak([text], SPEAKER)
    path = folder / f"{name}.wav"
    soundfile.write(path, np.concatenate([np.zeros(1600, np.int16), samples]), RATE)
    return path


def say(device: VirtualDevice, wav: Path) -> None:
    subprocess.run(
        ["paplay", f"--device={device.sink}", str(wav)],
        env=device.env,
        check=True,
        timeout=30,
    )


def play(device: VirtualDevice, routine: Path) -> subprocess.Popen[str]:
    env = dict(device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"], PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "play", str(routine), *ARGS],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """The player's output lines as they come, each with the time it was read."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.seen.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, fragment: str, timeout: float = 120) -> float:
        """When a line holding `fragment` came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, line in self.seen:
                if fragment in line:
                    return when
            time.sleep(0.02)
        raise AssertionError(f"no line with {fragment!r} in {[line for _, line in self.seen]}")

    def join(self) -> None:
        self._thread.join(timeout=10)

    def heard(self) -> list[str]:
        return [line.removeprefix("heard: ") for _, line in self.seen if line.startswith("heard:")]


def finish(proc: subprocess.Popen[str], lines: Lines) -> str:
    """The player's standard error, once it has ended; its pipes closed."""
    assert proc.stdout is not None and proc.stderr is not None
    lines.join()
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return err


@dataclass
class Session:
    """A `play --listen` run: the process, its output lines, the sink's recording, and its
    standard error once it has ended."""

    proc: subprocess.Popen[str]
    lines: Lines
    recorder: Recorder
    err: str = ""


@contextlib.contextmanager
def session(device: VirtualDevice, routine: Path, timeline: Timeline) -> Iterator[Session]:
    """`play --listen` on `routine` while the sink is recorded; the block speaks into the
    room; leaving it waits for the player (killed if it overruns) and closes its pipes."""
    with device.record("listen") as recorder:
        proc = play(device, routine)
        run = Session(proc, Lines(proc), recorder)
        try:
            yield run
            proc.wait(timeout=timeline.duration / 1000 + 60)
        finally:
            if proc.poll() is None:
                proc.kill()
    run.err = finish(proc, run.lines)


def into_hold(lines: Lines, section: Section, seconds: float) -> None:
    """Wait until `seconds` into the hold of `section`, timed from the line naming it."""
    hold = next(e for e in section.events if e.kind == "hold")
    entered = lines.wait_for(section.title)
    due = entered + (hold.start - section.start) / 1000 + seconds
    time.sleep(max(0.0, due - time.monotonic()))


def sounding_span(samples: np.ndarray, rate: int) -> float:
    """Seconds from the first sound to the last in a recording."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)).max(axis=1) > 64)
    return (loud[-1] - loud[0]) / rate if loud.size else 0.0


def planned_span(timeline: Timeline) -> float:
    """Seconds from the routine's first sound to the end of its last, as compiled."""
    sounds = [e for e in timeline.events if e.kind in ("speech", "chime")]
    return (max(e.end for e in sounds) - min(e.start for e in sounds)) / 1000


def test_pause_continue_and_more_time_said_aloud_act_on_the_routine(
    microphone: VirtualDevice, routine: Path, tmp_path: Path
) -> None:
    """Paused ("wait"): silence until "continue"; "ten more seconds" in the second hold: it
    lasts ten seconds longer; each printed as "heard: ..." and nothing else heard."""
    timeline = api.compile(str(routine), CHOICES)
    first, second = timeline.sections[1], timeline.sections[2]
    pause, resume, more = (
        said(microphone, tmp_path, text, name)
        for text, name in (
            ("wait", "pause"),
            ("continue", "continue"),
            ("ten more seconds", "more"),
        )
    )
    with session(microphone, routine, timeline) as run:
        into_hold(run.lines, first, 4)
        say(microphone, pause)
        paused_at = time.monotonic()
        time.sleep(6)
        say(microphone, resume)
        resumed_at = time.monotonic()
        into_hold(run.lines, second, 4)
        say(microphone, more)
    assert run.proc.returncode == 0, run.err
    assert run.lines.heard() == ["pause", "continue", "more"], run.err
    recording = run.recorder.samples()
    rate = microphone.rate
    start = run.recorder.started_at
    quiet = recording[int((paused_at - start + 2.5) * rate) : int((resumed_at - start - 2) * rate)]
    assert np.abs(quiet.astype(np.int32)).max() <= 64, "sound while paused"
    extra = sounding_span(recording, rate) - planned_span(timeline)
    paused_for = resumed_at - paused_at
    assert 10 + paused_for - 1 <= extra <= 10 + paused_for + 8, extra


def test_the_guides_own_voice_and_talk_in_the_room_act_on_nothing(
    microphone: VirtualDevice, routine: Path, tmp_path: Path
) -> None:
    """The guide's voice looped back into the microphone for the whole routine, and a
    person talking (sentences, no command) in its holds: no command heard, the routine
    unchanged. (Short phrases that are not commands are the recognizer's to reject, and
    measured by scripts/bench: docs/listening.md.)"""
    timeline = api.compile(str(routine), CHOICES)
    talk = [
        said(microphone, tmp_path, text, f"talk{i}")
        for i, text in enumerate(
            (
                "I think my shoulder feels a little looser than yesterday.",
                "Could you turn the heating up a bit, please?",
                "The kettle has just boiled, so I will make us some tea in a minute.",
                "My neck feels better when I breathe out slowly like that.",
            )
        )
    ]
    with session(microphone, routine, timeline) as run:
        for section, wav in zip(timeline.sections[1:3], (talk[:2], talk[2:]), strict=True):
            into_hold(run.lines, section, 3)
            for one in wav:
                say(microphone, one)
                time.sleep(1)
    assert run.proc.returncode == 0, run.err
    assert run.lines.heard() == [], run.err
    span = sounding_span(run.recorder.samples(), microphone.rate)
    assert abs(span - planned_span(timeline)) < 0.5, (span, planned_span(timeline))
