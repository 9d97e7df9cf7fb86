"""The folder of entries, by key: `ClipCache`. A get checks the entry and deletes a damaged
one; a put writes a temporary file and renames it into place; past the size limit the least
recently used entries go; what killed processes left is removed on the way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..clip import SAMPLE_RATE, Clip
from ..config import Settings
from .entry import MAX_ENTRY_BYTES, _decode, _encode, read_regular
from .limit import configured_limit_mb
from .temporary import RUN_PREFIX, _writer_gone, temp_name

_log = logging.getLogger("voiceguide.cache")

_SUFFIX = ".wav"
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"
_STALE_SECONDS = 3600
"""A temporary file of no known writer this old was left by a killed process."""
_AFTER_EVICTION = 0.9
"""Eviction goes down to this share of the limit, so the next put does not evict again."""


def default_directory() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide")) / "clips"


@dataclass(frozen=True, slots=True)
class Info:
    """What `voiceguide cache info` shows."""

    directory: Path
    bytes: int
    entries: int
    limit_bytes: int


class ClipCache:
    """Clips on disk by key. Never fails a synthesis: a cache that cannot be written is
    skipped, with one call to `on_warning` saying so."""

    def __init__(
        self,
        directory: Path | None = None,
        on_warning: Callable[[str], None] = _log.warning,
        limit_mb: float | None = None,
    ) -> None:
        self.directory = directory if directory is not None else default_directory()
        self._on_warning = on_warning
        self._limit_mb = limit_mb
        """None: the config's, read when first needed."""
        self._writable = True
        self._made = False
        """The directory has been made (by us, once): puts skip the mkdir until one fails."""
        self._size: int | None = None
        """Bytes in the cache, counted at the first put and kept up to date by this process."""

    @property
    def limit_bytes(self) -> int:
        if self._limit_mb is None:
            self._limit_mb = configured_limit_mb()
        return int(self._limit_mb * 1_000_000)

    @property
    def writable(self) -> bool:
        """False once a write has failed: the cache is being skipped."""
        return self._writable

    @staticmethod
    def key(text: str, settings: Settings, engine_id: str) -> str:
        """The entry's name: a sha256 of everything that changes the clip."""
        fields = ["voiceguide-clip-1", text, settings.voice, settings.rate]
        fields += [round(float(settings.volume), 4), engine_id, SAMPLE_RATE]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{_SUFFIX}"

    def get(self, key: str) -> Clip | None:
        """The cached clip, or None if it is missing or damaged (a damaged entry is deleted)."""
        path = self.path(key)
        try:
            data = read_regular(path, MAX_ENTRY_BYTES)
        except FileNotFoundError:
            return None
        except OSError:
            data = b""  # a link, FIFO, device or giant in an entry's place: not ours
        try:
            clip = _decode(data)
        except ValueError:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to be evicted
        return clip

    def has(self, key: str) -> bool:
        """Whether there is an entry (a regular file) for `key`; `get` checks what is in it."""
        try:
            return stat.S_ISREG(self.path(key).lstat().st_mode)
        except OSError:
            return False

    def put(self, key: str, clip: Clip) -> None:
        """Store a clip atomically; on an unwritable cache, warn once and carry on."""
        if not self._writable:
            return
        parts = _encode(clip)
        attempts = (True, True) if not self._made else (False, True, True)
        for attempt, make in enumerate(attempts):
            try:
                self._write(key, parts, make)
                self._grew(sum(len(part) for part in parts))
                return
            except FileNotFoundError:
                if attempt < len(attempts) - 1:
                    continue  # another process cleared the cache meanwhile: try once more
                reason = "it keeps disappearing"
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
            self._writable = False
            message = f"not caching speech: cannot write to {self.directory}: {reason}"
            self._on_warning(message)
            return

    def _write(self, key: str, parts: list[bytes], make: bool) -> None:
        if make:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._made = True
        # The name is chosen before the file exists, so a Ctrl-C at any point, even just after
        # the file is created, lands in the `except` below (mkstemp can be interrupted after
        # creating its file and before returning its name, leaving the file behind).
        temp = self.directory / temp_name(_TEMP_PREFIX, _TEMP_SUFFIX)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
            os.replace(temp, self.path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def clear(self) -> int:
        """Delete every entry, and temporary files left by killed processes; how many entries.
        Raises CacheError when the folder cannot be read or an entry cannot be removed: a
        clear that left clips behind is not one."""
        from ..errors import CacheError

        try:
            with os.scandir(self.directory) as listing:
                next(listing, None)
        except (FileNotFoundError, NotADirectoryError):  # no folder: no clips to remove
            return 0
        except OSError as exc:
            raise CacheError(f"cannot clear {self.directory}: {_why(exc)}") from None
        removed, failed = 0, []
        for path, _ in self._scan():
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass  # another process removed it
            except OSError as exc:
                failed.append(exc)
        self._size = None
        if failed:
            raise CacheError(
                f"cannot clear {self.directory}: {len(failed)} clip(s) could not be removed "
                f"({_why(failed[0])}); removed {removed}"
            )
        return removed

    def sweep(self) -> None:
        """Remove what killed processes left: their temporary files and clip folders."""
        self._scan(entries=False)

    def _scan(self, entries: bool = True) -> list[tuple[Path, os.stat_result]]:
        """The entries with their stat, and on the way, what killed processes left removed."""
        try:
            paths = list(self.directory.iterdir())
        except OSError:
            return []
        found = []
        for path in paths:
            name = path.name
            with contextlib.suppress(OSError):
                if name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX):
                    if self._left_behind(path, _TEMP_PREFIX):
                        path.unlink()
                elif name.startswith(RUN_PREFIX):
                    if _writer_gone(name, RUN_PREFIX):
                        import shutil

                        shutil.rmtree(path, ignore_errors=True)
                elif entries and name.endswith(_SUFFIX) and not name.startswith("."):
                    found.append((path, path.lstat()))
        return found

    @staticmethod
    def _left_behind(path: Path, prefix: str) -> bool:
        gone = _writer_gone(path.name, prefix)
        if gone is None:  # an older name, without the writer's process id
            return path.stat().st_mtime < time.time() - _STALE_SECONDS
        return gone

    def _grew(self, added: int) -> None:
        """Count a new entry; past the limit, evict the least recently used."""
        if self._size is None:
            self._size = sum(info.st_size for _, info in self._scan())
        else:
            self._size += added
        if self._size > self.limit_bytes:
            self.evict(int(self.limit_bytes * _AFTER_EVICTION))

    def evict(self, target: int) -> int:
        """Delete the least recently used entries until at most `target` bytes are left; how
        many were deleted. A process still reading one keeps its own link to it (store.py)."""
        found = sorted(self._scan(), key=lambda entry: entry[1].st_mtime)
        size = sum(info.st_size for _, info in found)
        removed = 0
        for path, info in found:
            if size <= target:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
                size -= info.st_size
        self._size = size
        return removed

    def info(self) -> Info:
        found = self._scan()
        size = sum(info.st_size for _, info in found)
        return Info(self.directory, size, len(found), self.limit_bytes)


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
