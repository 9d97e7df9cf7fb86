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
import io
import json
import logging
import os
import secrets
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .clip import Clip
from .config import Settings
from .errors import SpeechError
from .speech import Synthesizer

_log = logging.getLogger(__name__)

_SUFFIX = ".wav"
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"
_STALE_SECONDS = 3600
"""A temporary file this old was left by a killed process, not one still writing."""
_CHUNK = b"vgck"
_TRAILER = 8 + 32  # chunk id, chunk size, sha256


def default_directory() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide")) / "clips"


def _encode(clip: Clip) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(clip.sample_rate)
        w.writeframes(clip.pcm)
    body = bytearray(buffer.getvalue())
    riff_size = int.from_bytes(body[4:8], "little") + _TRAILER
    body[4:8] = riff_size.to_bytes(4, "little")
    return bytes(body) + _CHUNK + (32).to_bytes(4, "little") + hashlib.sha256(body).digest()


def _decode(data: bytes) -> Clip:
    """The clip in an entry; ValueError if the entry is not exactly what `_encode` wrote."""
    body, trailer = data[:-_TRAILER], data[-_TRAILER:]
    if len(data) <= _TRAILER or trailer[:8] != _CHUNK + (32).to_bytes(4, "little"):
        raise ValueError("no checksum: truncated")
    if hashlib.sha256(body).digest() != trailer[8:]:
        raise ValueError("checksum mismatch")
    try:
        with wave.open(io.BytesIO(body), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError("not mono 16-bit")
            pcm = w.readframes(w.getnframes())
            return Clip(pcm, w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise ValueError(str(exc)) from exc


class ClipCache:
    """Clips on disk by key. Never fails a synthesis: a cache that cannot be written is
    skipped, with one call to `on_warning` saying so."""

    def __init__(
        self, directory: Path | None = None, on_warning: Callable[[str], None] = _log.warning
    ) -> None:
        self.directory = directory if directory is not None else default_directory()
        self._on_warning = on_warning
        self._writable = True

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
        data = _encode(clip)
        for attempt in range(2):
            try:
                self._write(key, data)
                return
            except FileNotFoundError:
                if attempt == 0:
                    continue  # another process cleared the cache meanwhile: try once more
                reason = "it keeps disappearing"
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
            self._writable = False
            message = f"not caching speech: cannot write to {self.directory}: {reason}"
            self._on_warning(message)
            return

    def _write(self, key: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The name is chosen before the file exists, so a Ctrl-C at any point, even just after
        # the file is created, lands in the `except` below (mkstemp can be interrupted after
        # creating its file and before returning its name, leaving the file behind).
        temp = self.directory / f"{_TEMP_PREFIX}{secrets.token_hex(8)}{_TEMP_SUFFIX}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
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
