"""The worker's side of the natural and system engines' pool: the protocol, and the loop a
worker runs (started by `_host.py`): load the engine once, say READY, then one finished clip
per request until its input ends. The parent's side, the pool, is `workers`.

The protocol, little-endian. To a worker: "<I" size, then a JSON request {"id", "text",
"voice", "control", "stretch"}; end of input: exit. From a worker: "<BIiI" kind, task id,
value, payload size, then the payload:
    READY   payload: JSON {"version", "voices": [[id, name, [languages]], ...]}
    CLIP    value: sample rate; payload: the finished clip, 16-bit little-endian PCM
    ERROR   payload: what went wrong, UTF-8
    FAILED  payload: why the engine cannot start (the worker then exits)
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Callable
from typing import IO, Any, Protocol

REQUEST = struct.Struct("<I")
REPLY = struct.Struct("<BIiI")
READY, CLIP, ERROR, FAILED = 1, 2, 3, 4


class Backend(Protocol):
    """What a worker runs: one engine, loaded once."""

    version: str

    def voices(self) -> list[tuple[str, str, list[str]]]: ...

    def speak(self, text: str, voice: str, control: float) -> tuple[Any, int]:
        """(float samples in [-1, 1], their sample rate)."""
        ...


def _write(out: IO[bytes], kind: int, task_id: int, value: int, payload: bytes) -> None:
    out.write(REPLY.pack(kind, task_id, value, len(payload)) + payload)
    out.flush()


def serve(load: Callable[[], Backend]) -> None:
    """The worker's loop: load the engine, say READY, then one finished clip per request."""
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # only replies go to the parent; anything an engine prints is dropped
    os.close(devnull)
    source = sys.stdin.buffer
    try:
        backend = load()
        ready = json.dumps({"version": backend.version, "voices": backend.voices()})
    except Exception as exc:
        _write(out, FAILED, 0, 0, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        return
    from .finish import finish

    _write(out, READY, 0, 0, ready.encode())
    while True:
        head = source.read(REQUEST.size)
        if len(head) < REQUEST.size:
            return
        body = source.read(REQUEST.unpack(head)[0])
        request = json.loads(body)
        try:
            samples, rate = backend.speak(request["text"], request["voice"], request["control"])
            clip = finish(samples, rate, float(request.get("stretch", 1.0)))
        except Exception as exc:
            reason = (str(exc) or type(exc).__name__).encode("utf-8", "replace")
            _write(out, ERROR, request["id"], 0, reason)
            continue
        _write(out, CLIP, request["id"], clip.sample_rate, clip.pcm)
