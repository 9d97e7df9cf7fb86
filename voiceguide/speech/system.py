"""The system's own voices through pyttsx3's engine API: SAPI5 on Windows,
NSSpeechSynthesizer/AVSpeech on macOS, espeak-ng on Linux. The way to any voice a platform has.

One `save_to_file` per cue, in worker processes (`workers`), with what pyttsx3 needs to be
reliable (measured with its espeak driver; see docs/espeak-engine.md): a fresh engine for
each cue, its settings applied before its one save (an engine reused kept its first rate), and
the file waited for (`runAndWait` can return before it is written). Nothing here imports a
POSIX-only module.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError
from ..estimate import spoken
from .base import VoiceInfo, resolve_voice, too_long
from .rates import CALIBRATIONS, FINISH
from .workers import Pool, PooledEngine
from .workers import judge as _judge

DRIVERS = {"win32": "sapi5", "darwin": "nsss"}
"""pyttsx3's default driver by platform; espeak everywhere else."""


def driver() -> str:
    return DRIVERS.get(sys.platform, "espeak")


def _text(text: str) -> str:
    """Cue text as a system voice must see it: SAPI5 reads `<...>` as XML, NSSpeechSynthesizer
    `[[...]]` as commands, espeak-ng `[[...]]` as phonemes. Those characters go, words stay."""
    text = spoken(text)
    for mark in "<>[]{}":
        text = text.replace(mark, " ")
    return " ".join(text.split())


def unavailable() -> str | None:
    if importlib.util.find_spec("pyttsx3") is None:
        return "the system voices need pyttsx3, which is not installed"
    return None


TAKE = "take-2"
"""How a cue is said through pyttsx3, part of the engine's id: take-1's espeak-driver clips
could be at the wrong speed (`_settle`), so the cache makes them again."""


def _engine_id() -> str:
    import importlib.metadata

    version = importlib.metadata.version("pyttsx3")
    return f"system/pyttsx3-{version}/{driver()}/{TAKE}/{FINISH}"


class SystemEngine(PooledEngine):
    """pyttsx3 with the platform's default driver, in a pool of worker processes."""

    name = "system"

    def __init__(
        self, workers: int | None = None, timeout: float = 30.0, startup_timeout: float = 60.0
    ) -> None:
        reason = unavailable()
        if reason:
            raise SpeechError(reason)
        self.engine_id = _engine_id()
        self._pool = Pool(
            "system",
            size=workers or 1,
            timeout=timeout,
            startup_timeout=startup_timeout,
            scratch=True,  # pyttsx3 saves to a file: in the pool's folder, removed with it
        )

    def voices(self) -> tuple[VoiceInfo, ...]:
        self._pool.wait_ready()
        assert self._pool.voices is not None
        return self._pool.voices

    def resolve_voice(self, name: str) -> str:
        return resolve_voice(name, self.voices(), self.name)

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        self.start()
        return self._synthesize(list(texts), settings)

    def _synthesize(self, texts: list[str], settings: Settings) -> Iterator[Clip]:
        voice = self.resolve_voice(settings.voice)
        if driver() == "espeak":
            control, stretch = CALIBRATIONS["system"].control(settings.rate)
        else:  # SAPI5 and NSSpeechSynthesizer take words per minute: not measured here
            control, stretch = float(settings.rate), 1.0
        cleaned = [_text(text) for text in texts]
        for text in cleaned:
            if error := too_long(text):
                raise error
        request = {"voice": voice, "control": control, "stretch": stretch}
        clips = self._pool.run(
            [t for t in cleaned if t], lambda _: request, _judge(self.name, settings.rate)
        )
        for text in cleaned:
            yield next(clips) if text else Clip(b"")


# --- The worker's side ----------------------------------------------------------------------


def _language(raw: object) -> str:
    """A language as drivers report it: espeak's bytes (b"\\x05en-us"), or text."""
    if isinstance(raw, bytes):
        raw = raw[1:].decode("utf-8", "replace") if raw[:1] < b" " else raw.decode()
    return str(raw)


class _Backend:
    WAIT_S = 10.0

    def __init__(self) -> None:
        import pyttsx3

        from .workers import SCRATCH

        self._engine = pyttsx3.init()
        self._folder = os.environ.get(SCRATCH) or tempfile.gettempdir()
        self._count = 0
        self.version = _engine_id()

    def voices(self) -> list[tuple[str, str, list[str]]]:
        found = []
        for voice in self._engine.getProperty("voices"):
            languages = [_language(lang) for lang in (voice.languages or [])]
            found.append((str(voice.id), str(voice.name), [lang for lang in languages if lang]))
        return found

    def speak(self, text: str, voice: str, control: float) -> tuple[Any, int]:
        """One cue through a fresh pyttsx3 engine, one save, one run (docs/espeak-engine.md)."""
        from pyttsx3.engine import Engine

        engine = Engine()
        settings = {"voice": voice, "rate": round(control), "volume": 1.0}
        if driver() == "espeak":
            _settle(settings)
        else:
            for name, value in settings.items():
                engine.setProperty(name, value)
        self._count += 1
        suffix = ".aiff" if sys.platform == "darwin" else ".wav"
        path = os.path.join(self._folder, f"{os.getpid()}-{self._count}{suffix}")
        try:
            engine.save_to_file(text, path)  # one save per run: only a run's last is spoken
            engine.runAndWait()  # espeak driver: returns once the text is queued, not said
            return self._read(path)
        finally:
            if os.path.exists(path):
                os.unlink(path)

    def _read(self, path: str) -> tuple[Any, int]:
        """The saved file, once whole: soundfile reads it only when its header is complete."""
        import numpy as np
        import soundfile

        deadline = time.monotonic() + self.WAIT_S
        last = -1
        while True:
            size = os.path.getsize(path) if os.path.exists(path) else -1
            if size > 44 and size == last:
                try:
                    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
                    return np.ascontiguousarray(samples.mean(axis=1)), int(rate)
                except (RuntimeError, soundfile.LibsndfileError):
                    pass
            if time.monotonic() > deadline:
                raise SpeechError("the system voice wrote no complete audio file")
            last = size
            time.sleep(0.02)


def _settle(settings: dict[str, Any]) -> None:
    """Apply settings to espeak-ng and wait until it has: set through the engine's queue, a
    rate could still be pending when `runAndWait` ends its loop, which cancels whatever
    espeak-ng has pending, so the cue came out at the driver's default rate."""
    from pyttsx3.drivers import _espeak
    from pyttsx3.drivers.espeak import EspeakDriver

    for name, value in settings.items():
        EspeakDriver.setProperty(name, value)
    _espeak.Synchronize()


def load_backend() -> _Backend:
    return _Backend()
