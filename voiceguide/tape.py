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

PIECE = 1 << 20
"""Samples moved at a time (2 MB)."""


class Stored:
    """Samples in an unnamed temporary file in `folder`; sliced like an array, read on demand."""

    def __init__(self, blocks: Iterable[Samples], folder: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (lives with the object)
        weakref.finalize(self, self._file.close)
        length = 0
        for block in blocks:
            data = np.ascontiguousarray(block, dtype="<i2")
            self._file.write(data.data.cast("B"))
            length += len(data)
        self._file.flush()
        self._length = length

    def __len__(self) -> int:
        return self._length

    def read(self, start: int, stop: int) -> Samples:
        start, stop = max(0, start), min(stop, self._length)
        if stop <= start:
            return np.zeros(0, dtype=np.int16)
        data = os.pread(self._file.fileno(), 2 * (stop - start), 2 * start)
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

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
                    release(buffer, at + done, at + done + len(piece))
                done += len(piece)
            if done >= limit:
                break
        return done


def mapped(samples: int, folder: Path | None = None) -> tuple[Samples, mmap.mmap]:
    """A writable buffer of `samples` silent samples, backed by an unnamed temporary file."""
    with tempfile.TemporaryFile(dir=folder) as file:
        file.truncate(2 * max(1, samples))  # sparse: silence takes no room
        buffer = mmap.mmap(file.fileno(), 2 * max(1, samples))
    return np.frombuffer(buffer, dtype=np.int16)[:samples], buffer


def release(buffer: mmap.mmap, start: int, stop: int) -> None:
    """Drop samples [start, stop) of a mapped buffer from this process's memory (the whole
    pages inside the range); they stay in the file and are read back if used again."""
    advise = getattr(buffer, "madvise", None)
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if advise is None or dontneed is None:
        return
    page = mmap.PAGESIZE
    first = -(-2 * max(0, start) // page) * page
    last = min(2 * stop, len(buffer)) // page * page
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
