"""Listening's parts that need no microphone: the half-duplex gate, the listener fed blocks
of a scene, and what happens when there is no microphone at all (one warning, the session
plays on; `mic` says so plainly)."""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from voiceguide.listen import Gate, listener, recognizer
from voiceguide.listen.gate import LEAD_S, TAIL_S
from voiceguide.listen.microphone import Block
from voiceguide.listen.segmenter import RATE

from . import listen_audio as audio
from .conftest import ROUTINES

REPO = Path(__file__).parent.parent


def test_the_gate_hears_only_inside_the_window_less_its_tail_and_lead() -> None:
    gate = Gate()
    assert not gate.open(0.0, 0.05), "closed until the player says when it is silent"
    assert not gate.announced
    gate.window(10.0, 20.0)
    assert gate.announced
    assert not gate.open(10.0, 10.05), "the guide's echo is still in the room"
    assert gate.open(10.0 + TAIL_S, 10.05 + TAIL_S)
    assert gate.open(15.0, 15.05)
    assert not gate.open(19.95 - LEAD_S + 0.01, 20.0 - LEAD_S + 0.01), "the guide is about to speak"
    assert not gate.open(9.0, 11.0), "a block that began while the guide spoke"
    gate.window(5.0, math.inf)  # paused: silent from now on
    assert gate.open(1e6, 1e6 + 0.05)
    gate.close()
    assert not gate.open(1e6, 1e6 + 0.05)
    assert not gate.announced


def no_devices(tmp_path: Path) -> dict[str, str]:
    """An environment with no sound server and no sound card: PortAudio finds no input."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "ALSA_"))}
    env.update(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path), PULSE_SERVER="unix:/nowhere")
    listed = subprocess.run(
        [sys.executable, "-c", "import sounddevice as s; print(len(s.query_devices()))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if listed.stdout.strip() != "0":
        pytest.skip("this machine has a sound card of its own")
    return env


def test_mic_without_an_input_device_says_so_in_one_line(tmp_path: Path) -> None:
    env = no_devices(tmp_path)
    for args in (("mic",), ("mic", "--list"), ("mic", "--seconds", "1")):
        done = subprocess.run(
            [sys.executable, "-m", "voiceguide", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, done
        assert done.stderr == (
            "error: no input device (no microphone) was found; plug one in, or check your "
            "sound settings\n"
        )


PLAY_WITHOUT_MIC = """
import sys
from voiceguide import api
from voiceguide.sink import FakeClock, FakeSink
from voiceguide.speech import FakeSynthesizer
clock = FakeClock()
with api.playing(sys.argv[1], api.Options(listen=True), sink=FakeSink(clock), clock=clock,
                 engine=FakeSynthesizer(), record=False) as player:
    assert player.quiet is None
    texts = [e.text for s in player.program.sections for e in s.events if e.kind == "speech"]
    player.run()
print("done", player.state, "listening cue" if any("listening" in t for t in texts) else "")
"""


def test_play_listen_without_a_microphone_warns_once_and_plays_on(tmp_path: Path) -> None:
    """No input device: one warning, the routine plays to its end, and its opening does not
    promise that anyone listens."""
    env = no_devices(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PLAY_WITHOUT_MIC, str(ROUTINES / "short.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done done"
    assert done.stderr.splitlines() == [
        "not listening: no input device (no microphone) was found; the session plays on; keys "
        "still work"
    ]
    assert "Traceback" not in done.stderr


class SceneMicrophone:
    """A microphone that hears `scene` in 50 ms blocks, stamped from clock time 0, then
    goes quiet; `done` is set once every block has been read."""

    def __init__(self, scene: np.ndarray) -> None:
        step = RATE // 20
        self.blocks = [
            Block(scene[i : i + step], i / RATE, (i + step) / RATE)
            for i in range(0, len(scene) - step + 1, step)
        ]
        self.device = SimpleNamespace(name="scene")
        self.active = True
        self.done = threading.Event()

    def __call__(self, _device: object) -> SceneMicrophone:
        return self

    def __enter__(self) -> SceneMicrophone:
        return self

    def read(self, timeout: float) -> Block | None:
        if self.blocks:
            return self.blocks.pop(0)
        self.done.set()
        time.sleep(timeout)
        return None

    def close(self) -> None:
        self.active = False


@pytest.mark.speech
def test_the_listener_takes_the_room_into_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command said over a fan, which pocketsphinx misses without the room's sound, is
    heard through the listener: the segmenter's quiet before it reaches the recognizer.
    (Whisper's second opinion is left out: it hears this one either way.)"""
    alone = functools.partial(recognizer.Recognizer, second_opinion=False)
    monkeypatch.setattr(recognizer, "Recognizer", alone)
    (clip,) = audio.speak(["ten more seconds"], audio.ESPEAK_VOICES[0])
    scene, _ = audio.with_fan(clip, 10.0, seed=10)
    microphone = SceneMicrophone(scene)
    monkeypatch.setattr(listener, "Microphone", microphone)
    monkeypatch.setattr(listener, "find", lambda _mic: None)
    gate = Gate()
    gate.window(-math.inf, math.inf)
    heard: list[str] = []
    with listener.Listener(heard.append, gate):
        assert microphone.done.wait(timeout=60)
    assert heard == ["more"]


def test_the_recognizers_load_once_the_player_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading them beside the opening's synthesis delayed its first sound; until the player
    announces a window (it is running), the listener only waits."""
    created = threading.Event()

    class Recognizer:
        def __init__(self) -> None:
            created.set()

        def recognize(self, utterance: np.ndarray, room: np.ndarray | None = None) -> None:
            return None

    monkeypatch.setattr(recognizer, "Recognizer", Recognizer)
    monkeypatch.setattr(listener, "Microphone", SceneMicrophone(np.zeros(RATE, np.int16)))
    monkeypatch.setattr(listener, "find", lambda _mic: None)
    gate = Gate()
    with listener.Listener(lambda _command: None, gate):
        assert not created.wait(0.5)
        gate.window(0.0, math.inf)
        assert created.wait(10)
