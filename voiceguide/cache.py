"""A disk cache of synthesized clips, so a routine speaks instantly the second time.

An entry is a WAV file named by the sha256 of everything that shapes the clip (text, voice,
rate, volume, engine). After the WAV's data comes one more RIFF chunk, "vgck", holding the
sha256 of all bytes before it: a truncated or corrupted entry fails that check and is
deleted and synthesized again. Entries are written to a temporary file in the same
directory and renamed into place, so a reader, even in another process, sees a whole entry
or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .clip import Clip
from .config import Settings
from .errors import SpeechError

if TYPE_CHECKING:
    from .speech import Synthesizer

_log = logging.getLogger(__name__)

_SUFFIX = ".wav"
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"
_STALE_SECONDS = 3600
"""A temporary file this old was left by a killed process, not one still writing."""
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
        self, directory: Path | None = None, on_warning: Callable[[str], None] = _log.warning
    ) -> None:
        self.directory = directory if directory is not None else default_directory()
        self._on_warning = on_warning
        self._writable = True
        self._made = False
        """The directory has been made (by us, once): puts skip the mkdir until one fails."""

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
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return _decode(data)
        except ValueError:
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(self, key: str, clip: Clip) -> None:
        """Store a clip atomically; on an unwritable cache, warn once and carry on."""
        if not self._writable:
            return
        parts = _encode(clip)
        attempts = (True, True) if not self._made else (False, True, True)
        for attempt, make in enumerate(attempts):
            try:
                self._write(key, parts, make)
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
        temp = self.directory / f"{_TEMP_PREFIX}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
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
        try:
            paths = list(self.directory.iterdir())
        except OSError:
            return 0
        stale = time.time() - _STALE_SECONDS
        for path in paths:
            with contextlib.suppress(OSError):
                if path.name.startswith(_TEMP_PREFIX) and path.suffix == _TEMP_SUFFIX:
                    if path.stat().st_mtime < stale:  # one being written now stays
                        path.unlink()
                elif path.suffix == _SUFFIX and not path.name.startswith("."):
                    path.unlink()
                    removed += 1
        return removed


class CachedSynthesizer:
    """A Synthesizer that answers from the cache and sends only the misses to `engine`."""

    def __init__(self, engine: Synthesizer, cache: ClipCache) -> None:
        self.engine = engine
        self.cache = cache

    @property
    def engine_id(self) -> str:
        return self.engine.engine_id

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        texts = list(texts)
        keys = [self.cache.key(text, settings, self.engine_id) for text in texts]
        found = {key: clip for key in dict.fromkeys(keys) if (clip := self.cache.get(key))}
        misses = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        # One batch for all misses, started now, so the engine works in parallel.
        fresh = self.engine.synthesize(list(misses.values()), settings) if misses else iter(())
        return self._merge(keys, found, list(misses), fresh)

    def _merge(
        self, keys: list[str], found: dict[str, Clip], misses: list[str], fresh: Iterator[Clip]
    ) -> Iterator[Clip]:
        pending = iter(misses)
        for key in keys:
            while key not in found:
                clip = next(fresh, None)
                if clip is None:
                    raise SpeechError("the speech engine returned fewer clips than cues")
                new_key = next(pending)
                self.cache.put(new_key, clip)
                found[new_key] = clip
            yield found[key]
