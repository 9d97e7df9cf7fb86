"""The clips of one export or play, on disk: a mapping from cue text to Clip that keeps only a
few in memory, so memory stays flat however many and however long the cues are.

Each clip is a file in a folder of this process's own (`.run-PID-RANDOM` inside the clip
cache): a hard link to its cache entry where it can be (no copy, and the clip outlives the
entry being evicted or cleared by another process), written out otherwise. Where the cache
cannot be written, the folder is a temporary one. The folder is removed when the store is
closed or collected, and the next process to use the cache removes one a killed process
left behind. Files are in the cache's format, checksum included, and read back checked.
On a full disk, a clip that cannot be written is kept in memory instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

from .cache import MAX_ENTRY_BYTES, RUN_PREFIX, ClipCache, _decode, _encode, read_regular, temp_name
from .clip import Clip
from .errors import VoiceguideError

KEEP = 8
"""Clips kept in memory: the renderer's block overlaps two or three at a time."""


class ClipStore(Mapping[str, Clip]):
    """Clips by text, on disk; `length_ms` answers without reading a clip."""

    def __init__(self, cache: ClipCache | None = None, keep: int = KEEP) -> None:
        self.folder = _make_folder(cache)
        self._paths: dict[str, Path] = {}
        self._lengths: dict[str, int] = {}
        self._recent: OrderedDict[str, Clip] = OrderedDict()
        self._held: dict[str, Clip] = {}
        """Clips that could not be written (a full disk): kept in memory."""
        self._keep = keep
        self._closer = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def add(self, text: str, clip: Clip, entry: Path | None = None) -> None:
        """Keep `clip` for `text`: linked from its cache `entry` if it is there, else written."""
        if text in self._paths:
            return
        path = self.folder / f"{len(self._paths)}.wav"
        try:
            if entry is None:
                raise OSError("no entry")
            os.link(entry, path, follow_symlinks=False)
            if not stat.S_ISREG(path.lstat().st_mode):  # a link put there: not a clip
                path.unlink()
                raise OSError("not a regular file")
        except OSError:
            self._write(text, path, clip)
        self._paths[text] = path
        self._lengths[text] = clip.duration_ms
        self._remember(text, clip)

    def _write(self, text: str, path: Path, clip: Clip) -> None:
        """Write the clip out; on a full disk keep it in memory instead: the run goes on."""
        try:
            with open(path, "xb") as f:
                for part in _encode(clip):
                    f.write(part)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
            self._held[text] = clip

    def length_ms(self, text: str) -> int:
        return self._lengths[text]

    def __getitem__(self, text: str) -> Clip:
        clip = self._recent.get(text)
        if clip is not None:
            self._recent.move_to_end(text)
            return clip
        clip = self._held.get(text)
        if clip is not None:
            return clip
        path = self._paths[text]
        try:
            clip = _decode(read_regular(path, MAX_ENTRY_BYTES))
        except (OSError, ValueError) as exc:
            raise VoiceguideError(
                f"a speech clip kept in {self.folder} was damaged or removed while in use ({exc})"
            ) from exc
        self._remember(text, clip)
        return clip

    def _remember(self, text: str, clip: Clip) -> None:
        self._recent[text] = clip
        self._recent.move_to_end(text)
        while len(self._recent) > self._keep:
            self._recent.popitem(last=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def close(self) -> None:
        """Remove the folder (also done when the store is collected, or at exit)."""
        self._recent.clear()
        self._closer()

    def __enter__(self) -> ClipStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _make_folder(cache: ClipCache | None) -> Path:
    """A folder of this process's own beside the cache entries (so they can be hard-linked),
    or a temporary one where the cache cannot be written."""
    if cache is not None and cache.writable:
        cache.sweep()  # every export and play finds what a killed one left
        folder = cache.directory / temp_name(RUN_PREFIX)
        with contextlib.suppress(OSError):
            cache.directory.mkdir(parents=True, exist_ok=True)
            folder.mkdir(mode=0o700)
            return folder
    return Path(tempfile.mkdtemp(prefix="voiceguide-clips-"))
