"""An entry's bytes: a mono 16-bit WAV whose last RIFF chunk, "vgck", holds the sha256 of all
bytes before it, so a truncated or corrupted entry is known; and reading one from disk, only
ever a regular file of bounded size (store.py reads its own files the same way).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from pathlib import Path

from ..clip import Clip

MAX_ENTRY_BYTES = 64 << 20
"""No entry is larger (a clip of 25 minutes): anything bigger is not read."""
_CHUNK = b"vgck"
_TRAILER = 8 + 32  # chunk id, chunk size, sha256
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
"""A WAV file's header, as the `wave` module writes it: RIFF, a 16-byte PCM "fmt " chunk,
and the "data" chunk's id and size. Packed directly: the `wave` module took half of a put."""
_CHUNK_HEAD = struct.Struct("<4sI")
_FORMAT = struct.Struct("<HHIIHH")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Never opens a FIFO for long (it
    is opened without waiting for a writer), never follows a link, never reads a device;
    OSError otherwise."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name}: not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path.name}: larger than {limit} bytes")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(info.st_size + 1)  # read(n) allocates n at once: no more than needed
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"{path.name}: larger than {limit} bytes")
    return data


def _encode(clip: Clip) -> list[bytes]:
    """An entry's bytes, in parts (so the samples are not copied): WAV header, samples,
    trailer."""
    size = len(clip.pcm)
    rate = clip.sample_rate
    riff = 36 + size + _TRAILER
    header = _HEADER.pack(
        b"RIFF", riff, b"WAVE", b"fmt ", 16, 1, 1, rate, 2 * rate, 2, 16, b"data", size
    )
    digest = hashlib.sha256(header)
    digest.update(clip.pcm)
    return [header, clip.pcm, _CHUNK + (32).to_bytes(4, "little") + digest.digest()]


def _decode(data: bytes) -> Clip:
    """The clip in an entry; ValueError if the entry is not exactly what `_encode` wrote."""
    end = len(data) - _TRAILER
    if end <= 0 or data[end : end + 8] != _CHUNK + (32).to_bytes(4, "little"):
        raise ValueError("no checksum: truncated")
    if hashlib.sha256(memoryview(data)[:end]).digest() != data[end + 8 :]:
        raise ValueError("checksum mismatch")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    layout = None
    position = 12
    while position + _CHUNK_HEAD.size <= end:
        chunk, size = _CHUNK_HEAD.unpack_from(data, position)
        body = position + _CHUNK_HEAD.size
        if body + size > end:
            raise ValueError(f"chunk {chunk!r} runs past the end")
        if chunk == b"fmt " and size >= _FORMAT.size:
            layout = _FORMAT.unpack_from(data, body)
        elif chunk == b"data":
            if layout is None:
                raise ValueError("no format before the samples")
            encoding, channels, rate, _, _, bits = layout
            if encoding != 1 or channels != 1 or bits != 16:
                raise ValueError("not mono 16-bit")
            return Clip(data[body : body + size - size % 2], rate)
        position = body + size + size % 2
    raise ValueError("no samples")
