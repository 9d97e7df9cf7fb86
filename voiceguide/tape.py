"""The player's audio on disk, so that `play` holds a few seconds of it in memory, not hours.

A rendered section is kept in an unnamed temporary file (`Stored`) and read back in pieces.
The playing buffer is a temporary file mapped into memory (`mapped`): simpleaudio plays
straight from it, and what has been written or played is dropped from this process's memory
(`release`: MADV_DONTNEED keeps a shared file mapping's data in the file). The files have no
names, so nothing is left behind, whatever ends the process.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .render import Samples

PIECE = 1 << 19
"""Frames moved at a time (2 MB in stereo)."""


class Stored:
    """Frames (of one or two channels) in an unnamed temporary file in `folder`; sliced like an
    array, read on demand."""

    def __init__(
        self, blocks: Iterable[Samples], folder: Path | None = None, channels: int | None = None
    ) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (lives with the object)
        weakref.finalize(self, self._file.close)
        length = 0
        for block in blocks:
            data = np.ascontiguousarray(block, dtype="<i2")
            if data.ndim == 1:
                data = data[:, np.newaxis]
            if channels is None:
                channels = data.shape[1]
            elif data.shape[1] != channels:
                raise ValueError(f"a block of {data.shape[1]} channels among {channels}")
            self._file.write(data.data.cast("B"))
            length += len(data)
        self._file.flush()
        self._length = length
        self.channels = channels or 1

    def __len__(self) -> int:
        return self._length

    def read(self, start: int, stop: int) -> Samples:
        start, stop = max(0, start), min(stop, self._length)
        if stop <= start:
            return np.zeros((0, self.channels), dtype=np.int16)
        size = 2 * self.channels
        data = os.pread(self._file.fileno(), size * (stop - start), size * start)
        return np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, self.channels)

    def pieces(self, start: int = 0, stop: int | None = None) -> Iterator[Samples]:
        stop = self._length if stop is None else min(stop, self._length)
        for at in range(max(0, start), stop, PIECE):
            yield self.read(at, min(at + PIECE, stop))

    def __getitem__(self, index: slice) -> Samples:
        start, stop, step = index.indices(self._length)
        if step != 1:
            raise ValueError("only contiguous slices")
        return self.read(start, stop)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Samples:
        """All of it, for tests and short routines."""
        return self.read(0, self._length)


@dataclass(frozen=True, slots=True)
class Rest:
    """The audio from some sample on: pieces of stored sections, not yet read."""

    parts: tuple[tuple[Stored, int, int], ...]

    @property
    def channels(self) -> int:
        return self.parts[0][0].channels if self.parts else 1

    def __len__(self) -> int:
        return sum(stop - start for _, start, stop in self.parts)

    def copy_to(self, dest: Samples, at: int, limit: int, buffer: mmap.mmap | None) -> int:
        """Copy up to `limit` samples into `dest[at:]`, dropping each piece from memory once
        written (`buffer` is the mapping behind `dest`); how many were copied."""
        done = 0
        for stored, start, stop in self.parts:
            for piece in stored.pieces(start, min(stop, start + limit - done)):
                dest[at + done : at + done + len(piece)] = piece
                if buffer is not None:
                    release(buffer, at + done, at + done + len(piece), self.channels)
                done += len(piece)
            if done >= limit:
                break
        return done


def mapped(frames: int, folder: Path | None = None, channels: int = 1) -> tuple[Samples, mmap.mmap]:
    """A writable buffer of `frames` silent frames, backed by an unnamed temporary file."""
    size = 2 * channels * max(1, frames)
    with tempfile.TemporaryFile(dir=folder) as file:
        file.truncate(size)  # sparse: silence takes no room
        buffer = mmap.mmap(file.fileno(), size)
    return np.frombuffer(buffer, dtype=np.int16).reshape(-1, channels)[:frames], buffer


def release(buffer: mmap.mmap, start: int, stop: int, channels: int = 1) -> None:
    """Drop frames [start, stop) of a mapped buffer from this process's memory (the whole
    pages inside the range); they stay in the file and are read back if used again."""
    advise = getattr(buffer, "madvise", None)
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if advise is None or dontneed is None:
        return
    page, size = mmap.PAGESIZE, 2 * channels
    first = -(-size * max(0, start) // page) * page
    last = min(size * stop, len(buffer)) // page * page
    if last > first:
        advise(dontneed, first, last - first)


def folder_near(directory: Path | None) -> Path | None:
    """Where the files go: beside the clip cache when it can be written (on disk, where /tmp
    may be memory), else the system's temporary folder."""
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        if os.access(directory, os.W_OK):
            return directory
    return None
