"""The microphone, through sounddevice (PortAudio): 16 kHz mono blocks, each with the clock
time it was captured at; the inputs there are, and one picked by name or index.

Nothing is stored or sent anywhere: blocks go from PortAudio's thread to the listener through
a queue and are dropped once heard. A device that cannot give 16 kHz is opened at its own
rate and resampled (soxr).
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from .segmenter import RATE

BLOCK_S = 0.05
"""A block of audio from PortAudio: small, so the gate can judge it finely."""


class MicrophoneError(Exception):
    """No microphone to listen with: the session plays on with keys."""


@dataclass(frozen=True, slots=True)
class Input:
    """An input device, as `voiceguide mic --list` shows it."""

    index: int
    name: str
    channels: int
    rate: float
    default: bool


@dataclass(frozen=True, slots=True)
class Block:
    samples: npt.NDArray[np.int16]
    """Mono, at RATE."""
    start: float
    end: float
    """Clock time (time.monotonic) of its first and last sample."""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise MicrophoneError(f"PortAudio is not installed ({exc})") from exc
    return sounddevice


def inputs() -> list[Input]:
    """Every device that can record."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise MicrophoneError(f"cannot list sound devices: {exc}") from exc
    return [
        Input(i, d["name"], d["max_input_channels"], d["default_samplerate"], i == default)
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def find(spec: str | None) -> Input:
    """The input `spec` names (an index, or a name or part of one, any case); the default
    input when None."""
    from ..errors import UsageError

    found = inputs()
    if not found:
        raise MicrophoneError("no input device (no microphone) was found")
    if spec is None:
        return next((d for d in found if d.default), found[0])
    wanted = spec.strip().casefold()
    match = (
        [d for d in found if str(d.index) == wanted]
        if wanted.isdigit()
        else sorted(
            (d for d in found if wanted in d.name.casefold()),
            key=lambda d: d.name.casefold() != wanted,  # an exact name first
        )
    )
    if match:
        return match[0]
    listed = ", ".join(f"{d.index} ({d.name})" for d in found)
    raise UsageError(f"--mic: no input {spec!r}; give an index or a name from: {listed}")


class Microphone:
    """An open input stream; `read()` gives its blocks, oldest first."""

    def __init__(self, device: Input) -> None:
        self.device = device
        self._blocks: queue.SimpleQueue[Block] = queue.SimpleQueue()
        self._stream: Any = None
        self._resampler: Any = None

    def __enter__(self) -> Microphone:
        sd = _sounddevice()
        for rate in (RATE, int(self.device.rate)):
            try:
                self._stream = sd.InputStream(
                    samplerate=rate,
                    channels=1,
                    dtype="int16",
                    blocksize=int(rate * BLOCK_S),
                    device=self.device.index,
                    callback=self._callback,
                )
                break
            except sd.PortAudioError as exc:
                if rate != RATE or int(self.device.rate) == RATE:
                    raise MicrophoneError(f"cannot open {self.device.name}: {exc}") from exc
        if self._stream.samplerate != RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self._stream.samplerate, RATE, 1, "int16")
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise MicrophoneError(f"cannot start {self.device.name}: {exc}") from exc
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            sd = _sounddevice()
            try:
                stream.abort()
                stream.close()
            except sd.PortAudioError:
                pass  # the device is gone already

    @property
    def active(self) -> bool:
        """Still recording: False once PortAudio has stopped (the device went away)."""
        return self._stream is not None and bool(self._stream.active)

    def _callback(self, data: Any, frames: int, when: Any, status: Any) -> None:
        end = time.monotonic() - self._latency()
        samples = np.asarray(data[:, 0], dtype=np.int16).copy()
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._blocks.put(Block(samples, end - frames / self._stream.samplerate, end))

    def _latency(self) -> float:
        latency = self._stream.latency if self._stream is not None else 0.0
        return float(latency) if isinstance(latency, int | float) else 0.0

    def read(self, timeout: float) -> Block | None:
        """The next block, waiting up to `timeout` seconds for it."""
        try:
            return self._blocks.get(timeout=timeout)
        except queue.Empty:
            return None
