"""Listening beside the player: microphone -> gate -> segmenter -> recognizer -> a command.

It runs on its own thread and only ever hands a command to `hear` (the player's control
queue); anything that goes wrong (no microphone, a device that goes away, the recognizer
missing) is one warning, and the session plays on with its keys. Audio is never kept: each
block is judged, segmented, recognized and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from .gate import Gate
from .microphone import Microphone, MicrophoneError, find
from .segmenter import FRAME, dbfs

if TYPE_CHECKING:
    from .commands import Command

_log = logging.getLogger("voiceguide.listen")

STALL_S = 3.0
"""No audio at all for this long: the microphone has gone (unplugged, its server stopped)."""
KEYS_STILL = "the session plays on; keys still work"


class Listener:
    """`with Listener(hear, gate, mic):` listens on a thread for the block's length."""

    def __init__(
        self,
        hear: Callable[[Command], None],
        gate: Gate,
        mic: str | None = None,
        level: Callable[[float], None] | None = None,
    ) -> None:
        self.hear = hear
        self.gate = gate
        self.mic = mic
        self.level = level
        """Called with each block's level in dBFS (the `mic` check's bar)."""
        self.listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._microphone: Microphone | None = None

    def __enter__(self) -> Listener:
        try:
            self._microphone = Microphone(find(self.mic)).__enter__()
        except MicrophoneError as exc:
            _log.warning(f"not listening: {exc}; {KEYS_STILL}")
            return self
        self.listening = True
        self._thread = threading.Thread(target=self._run, name="voiceguide-listen", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._microphone is not None:
            self._microphone.close()

    def _run(self) -> None:
        try:
            self._listen()
        except Exception as exc:  # never the session's end: its keys still work
            _log.warning(f"listening stopped: {exc}; {KEYS_STILL}")
        finally:
            self.listening = False

    def _listen(self) -> None:
        from .recognizer import Recognizer
        from .segmenter import Segmenter

        microphone = self._microphone
        assert microphone is not None
        # The recognizers load once the player runs: their imports and Whisper's model would
        # hold the interpreter while the opening is made (first sound with --listen 0.76 ->
        # 1.25 s cold). The microphone's blocks wait in its queue meanwhile.
        while not self.gate.announced:
            if self._stop.wait(0.02):
                return
        recognizer = Recognizer()
        segmenter = Segmenter()
        carry = np.zeros(0, dtype=np.int16)
        last = time.monotonic()
        while not self._stop.is_set():
            block = microphone.read(timeout=0.2)
            if block is None:
                if not microphone.active or time.monotonic() - last > STALL_S:
                    name = microphone.device.name
                    _log.warning(f"listening stopped: {name} sends no sound; {KEYS_STILL}")
                    return
                continue
            last = time.monotonic()
            if self.level is not None:
                self.level(dbfs(block.samples))
            if not self.gate.open(block.start, block.end):
                segmenter.reset()
                carry = carry[:0]
                continue
            samples = np.concatenate((carry, block.samples))
            whole = len(samples) - len(samples) % FRAME
            for frame in samples[:whole].reshape(-1, FRAME):
                utterance = segmenter.feed(frame)
                if utterance is None:
                    continue
                if command := recognizer.recognize(utterance, segmenter.room()):
                    self.hear(command)
            carry = samples[whole:]
