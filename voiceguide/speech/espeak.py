"""espeak-ng: the fastest engine, and the one for its 130 other languages.

pyttsx3's ctypes binding of espeak-ng, in small posix_spawn'ed worker processes
(`espeak_pool`, `_espeak_worker.py`) that synthesize synchronously into shared memory; a crash
or hang costs one cue, never the program. Here: what the engine is made of, its voices and
settings, and each clip's length judged (retried once when a setting was lost). Why it is
built this way, measured: docs/espeak-engine.md. POSIX only; on Windows the `natural` and
`system` engines speak.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError
from ..estimate import duration_band, is_plausible, spoken
from .base import cue as _cue
from .base import dist_version, resolve_voice, too_long
from .espeak_pool import SpawnPool
from .espeak_spawn import Task
from .rates import CALIBRATIONS, FINISH

SAME_MS = 60
"""A retry this close to the first attempt (or within 8%) is espeak-ng's stable answer."""

# --- What the engine is made of -----------------------------------------------------------

_LIBRARIES = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.1.dylib", "libespeak.so.1")
_BINDING = ("pyttsx3", "drivers", "_espeak.py")


@functools.cache
def _espeak_version() -> str:
    """espeak-ng's version, read without starting it; SpeechError when it is not installed."""
    import ctypes

    for name in _LIBRARIES:
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        library.espeak_Info.restype = ctypes.c_char_p
        library.espeak_Info.argtypes = [ctypes.c_void_p]
        version: bytes = library.espeak_Info(None)
        return version.decode("ascii", "replace")
    raise SpeechError("speech needs espeak-ng, which is not installed: apt-get install espeak-ng")


@functools.cache
def _pyttsx3() -> tuple[str, str]:
    """pyttsx3's version and the path of its espeak-ng binding, found on sys.path without
    importing pyttsx3 or importlib.metadata (each costs tens of milliseconds)."""
    for entry in sys.path:
        folder = os.path.abspath(entry or os.curdir)
        binding = os.path.join(folder, *_BINDING)
        if not os.path.isfile(binding):
            continue
        version = dist_version(folder, "pyttsx3")
        if version is not None:
            return version, binding
        import importlib.metadata

        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version("pyttsx3"), binding
    raise SpeechError("speech needs pyttsx3, which is not installed")


def _engine_id() -> str:
    """The engine's id, e.g. "espeak/pyttsx3-2.99/espeak-ng-1.51/finish-2": what produced a
    clip, for cache keys."""
    version = _espeak_version()  # first: a missing espeak-ng is the likelier problem
    return f"espeak/pyttsx3-{_pyttsx3()[0]}/espeak-ng-{version}/{FINISH}"


class EspeakEngine(SpawnPool):
    """The real engine: espeak-ng, through pyttsx3's binding, in a small pool of worker
    processes.

    Workers start on first use (or `start()`, to overlap their start-up with other work) and
    live until `close()`. One `synthesize` at a time; not thread-safe.
    """

    name = "espeak"

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 20.0,
        startup_timeout: float = 30.0,
        *,
        deterministic: bool = False,
    ) -> None:
        self.engine_id = _engine_id()  # raises SpeechError when espeak-ng or pyttsx3 is missing
        super().__init__(
            _pyttsx3()[1],
            size=max(1, workers if workers is not None else min(2, os.cpu_count() or 1)),
            timeout=timeout,
            startup_timeout=startup_timeout,
            deterministic=deterministic,
        )
        self.retries = 0
        """Clips re-synthesized because the first came out implausible (a lost setting)."""

    def __enter__(self) -> EspeakEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def resolve_voice(self, name: str) -> str:
        return resolve_voice(name, self.voices(), self.name)

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        """Finished clips at `settings.rate` words per minute heard (see `rates`)."""
        nominal, factor = CALIBRATIONS["espeak"].control(settings.rate)
        raw = self.raw(texts, replace(settings, rate=int(nominal)))
        return self._finished(raw, factor)

    @staticmethod
    def _finished(raw: Iterator[Clip], factor: float) -> Iterator[Clip]:
        from .finish import finish, pcm16_floats

        for clip in raw:
            yield finish(pcm16_floats(clip.pcm), clip.sample_rate, factor) if clip.pcm else clip

    def raw(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        """espeak-ng's own clips, `settings.rate` being its nominal rate: untrimmed, as the
        command line writes them."""
        self.start()  # workers start while the caller gets on with other things
        return self._synthesize(list(texts), settings)

    def _synthesize(self, texts: list[str], settings: Settings) -> Iterator[Clip]:
        voice = self.resolve_voice(settings.voice)
        rate = int(settings.rate)
        volume = int(round(100 * min(1.0, max(0.0, float(settings.volume))), 2))  # as pyttsx3
        results: dict[int, Clip | SpeechError] = {}
        pending: deque[Task] = deque()
        for index, raw in enumerate(texts):
            text = spoken(raw)
            if not text:
                results[index] = Clip(b"")
            elif error := too_long(text):
                results[index] = error
            else:
                pending.append(Task(index, text))
        mine: list[Task] = []
        try:
            for index in range(len(texts)):
                while index not in results:
                    self._dispatch(pending, mine, voice, rate, volume)
                    again: list[Task] = []
                    for task, outcome in self._pump(self._wait_time()):
                        if task.abandoned:
                            continue
                        if outcome is None:
                            again.append(task)
                        else:
                            self._judge(task, outcome, rate, pending, results)
                    pending.extendleft(reversed(again))
                self._dispatch(pending, mine, voice, rate, volume)  # while the caller works
                result = results.pop(index)
                if isinstance(result, SpeechError):
                    raise result
                yield result
        finally:
            for task in mine:
                task.abandoned = True  # a worker still speaking it will be heard and ignored

    def _judge(
        self,
        task: Task,
        outcome: Clip | SpeechError,
        rate: int,
        pending: deque[Task],
        results: dict[int, Clip | SpeechError],
    ) -> None:
        """Accept a clip, retry it once if its length is implausible, or record the error."""
        if isinstance(outcome, Clip) and not is_plausible(task.text, rate, outcome.duration_ms):
            got = outcome.duration_ms
            if task.attempt == 0:
                self.retries += 1
                pending.appendleft(Task(task.index, task.text, attempt=1, first_ms=got))
                return
            if abs(got - task.first_ms) > max(0.08 * task.first_ms, SAME_MS):
                low, high = duration_band(task.text, rate)
                outcome = SpeechError(
                    f"speech engine produced a wrong clip twice for {_cue(task.text)}: "
                    f"{task.first_ms} and {got} ms, expected {low}-{high} ms at rate {rate} "
                    "(a voice setting was lost)"
                )
        results[task.index] = outcome


def unavailable() -> str | None:
    """Why this engine cannot speak here, or None when it can (cheap: no worker is started)."""
    if not hasattr(os, "posix_spawn"):
        return "espeak needs a POSIX system"
    try:
        _engine_id()
    except SpeechError as exc:
        return str(exc)
    return None
