"""A disk cache of synthesized clips, so a routine speaks instantly the second time.

An entry is a WAV file named by the sha256 of everything that shapes the clip (text, voice,
rate, volume, engine). After the WAV's data comes one more RIFF chunk, "vgck", holding the
sha256 of all bytes before it: a truncated or corrupted entry fails that check and is
deleted and synthesized again. Entries are written to a temporary file in the same
directory and renamed into place, so a reader, even in another process, sees a whole entry
or none. Only regular files are read (never a link, FIFO or device put in its place).

The cache has a size limit (config `cache_limit_mb`): an entry's modification time is
touched whenever it is used, and once the limit is passed the least recently used go first.
Temporary files carry their writer's process id, so what a killed process left is found and
removed by the next one that uses the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
import struct
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .clip import Clip
from .config import Settings
from .errors import Problem, RoutineError, SpeechError

if TYPE_CHECKING:
    from .speech import Synthesizer

_log = logging.getLogger(__name__)

_SUFFIX = ".wav"
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"
RUN_PREFIX = ".run-"
"""A folder of one process's clips (see store.py), named like a temporary file."""
_STALE_SECONDS = 3600
"""A temporary file of no known writer this old was left by a killed process."""
DEFAULT_LIMIT_MB = 1024
LIMIT_RANGE_MB = (10, 1_000_000)
_AFTER_EVICTION = 0.9
"""Eviction goes down to this share of the limit, so the next put does not evict again."""
MAX_ENTRY_BYTES = 64 << 20
"""No entry is larger (a clip of 25 minutes): anything bigger is not read."""
_CHUNK = b"vgck"
_TRAILER = 8 + 32  # chunk id, chunk size, sha256
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
"""A WAV file's header, as the `wave` module writes it: RIFF, a 16-byte PCM "fmt " chunk,
and the "data" chunk's id and size. Packed directly: the `wave` module took half of a put."""
_CHUNK_HEAD = struct.Struct("<4sI")
_FORMAT = struct.Struct("<HHIIHH")


def default_directory() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide")) / "clips"


def configured_limit_mb(config: dict[str, object] | None = None) -> float:
    """The config's `cache_limit_mb`, or the default; a bad value names the file and key."""
    from .config import config_path, read_config

    value = (read_config() if config is None else config).get("cache_limit_mb", DEFAULT_LIMIT_MB)
    low, high = LIMIT_RANGE_MB
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RoutineError(
            [
                Problem(
                    str(config_path()),
                    "cache_limit_mb",
                    f"must be megabytes from {low} to {high:,}, got {value!r}",
                )
            ]
        )
    return float(value)


def temp_name(prefix: str, suffix: str = "") -> str:
    """A short name that says which process made it: `.tmp-PID-RANDOM.part`."""
    return f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _writer_gone(name: str, prefix: str) -> bool | None:
    """Whether the process named in a temporary name has ended; None if it names none."""
    pid = name.removeprefix(prefix).split("-", 1)[0]
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


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


@dataclass(frozen=True, slots=True)
class Info:
    """What `voiceguide cache info` shows."""

    directory: Path
    bytes: int
    entries: int
    limit_bytes: int


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
        fields += [round(float(settings.volume), 4), engine_id]
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
        """Delete every entry, and temporary files left by killed processes; how many entries."""
        removed = 0
        for path, _ in self._scan():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        self._size = None
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


class CachedSynthesizer:
    """A Synthesizer that answers from the cache and sends only the misses to `engine`.

    Holds no more clips than it must: a cached clip is read when its turn comes (one found
    damaged then is made first, with the misses still to come), and a new one is passed on as
    soon as it is made (kept only if its text comes again)."""

    def __init__(self, engine: Synthesizer, cache: ClipCache) -> None:
        self.engine = engine
        self.cache = cache

    @property
    def engine_id(self) -> str:
        return self.engine.engine_id

    def entry(self, text: str, settings: Settings) -> Path:
        """Where the clip for `text` is cached (once it has been yielded, if it could be)."""
        return self.cache.path(self.cache.key(text, settings, self.engine_id))

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        texts = list(texts)
        keys = [self.cache.key(text, settings, self.engine_id) for text in texts]
        cached = {key for key in dict.fromkeys(keys) if self.cache.has(key)}
        misses = {key: text for key, text in zip(keys, texts, strict=True) if key not in cached}
        # One batch for all misses, started now, so the engine works in parallel.
        fresh = self.engine.synthesize(list(misses.values()), settings) if misses else iter(())
        return self._merge(keys, texts, cached, deque(misses.items()), fresh, settings)

    def _merge(
        self,
        keys: list[str],
        texts: list[str],
        cached: set[str],
        coming: deque[tuple[str, str]],
        fresh: Iterator[Clip],
        settings: Settings,
    ) -> Iterator[Clip]:
        """`coming` is what `fresh` will yield, in order, as (key, text)."""
        held: dict[str, Clip] = {}
        left = Counter(keys)
        try:
            for key, text in zip(keys, texts, strict=True):
                left[key] -= 1
                clip = held.get(key)
                if clip is None and key in cached:
                    clip = self.cache.get(key)
                    if clip is None:  # removed or damaged since: make it first, then the rest
                        cached.discard(key)
                        _close(fresh)
                        coming.appendleft((key, text))
                        fresh = self.engine.synthesize([t for _, t in coming], settings)
                while clip is None:
                    made = next(fresh, None)
                    if made is None or not coming:
                        raise SpeechError("the speech engine returned fewer clips than cues")
                    made_key, _ = coming.popleft()
                    self.cache.put(made_key, made)
                    if made_key == key:
                        clip = made
                    else:
                        held[made_key] = made
                if left[key]:
                    held[key] = clip
                else:
                    held.pop(key, None)
                yield clip
        finally:
            _close(fresh)


def _close(stream: Iterator[Clip]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()
