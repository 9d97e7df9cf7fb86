"""Speech: the Synthesizer interface, the pyttsx3/espeak-ng engine, and a fake for tests.

What `--rate` means. pyttsx3's rate is espeak-ng's nominal words per minute; what you hear
differs. Measured with espeak-ng 1.51, voice en-us, on 423 words of cue text (40 cues
read as one text, so the pauses at commas and full stops count):

    nominal rate     60   80  100  150  200  250  300  400
    effective wpm    83   83   99  152  207  263  322  442

espeak-ng clamps rates below 80 to 80, so 60 and 80 sound the same.

Why the engine is wrapped the way it is (pyttsx3 2.99 on Linux, all measured):

- A property set while espeak-ng is busy is silently dropped: `runAndWait()` cancels
  espeak-ng's pending queue, settings included (78 of 200 clips at the wrong rate). A
  worker waits until pyttsx3 and espeak-ng are idle after setting properties (0 of 200). The
  cancel also leaves a flag in pyttsx3 that cancels the *next* utterance: at start-up,
  pyttsx3.init() has queued its defaults, so a worker waits for espeak-ng before its first run.
- `runAndWait()` can return before the WAV file is written, so we wait for the
  `finished-utterance` callback; only the last `save_to_file` before a `runAndWait` is
  spoken, so a worker speaks one text per run; each save prints to stdout (fd 1 -> /dev/null).
- espeak-ng crashes on some texts (`"s'" * 220` smashes its stack; CVE-2023-49990..49994)
  and forking after `pyttsx3.init()` hangs, so synthesis runs in spawned worker processes
  with a timeout; a crash costs one cue (a SpeechError naming it), not the program.
- Every clip's length is checked against `duration_band` (a model of length from text and
  rate, fitted to 1,168 clips of 110 texts in 5 voices): a clip at a silently lost rate is
  retried once, then rejected. A retry that comes out the same length as the first attempt
  (within 8%) is espeak-ng's stable answer for an unusual text (a URL, acronyms) and is
  accepted.
- espeak-ng is not deterministic within a process: the same text and settings come out a
  few samples different every time, and up to 4% longer or shorter depending on the text
  spoken before (the espeak-ng command line, one process per text, is deterministic). Only
  cached clips are bit-for-bit repeatable.
- Control characters never reach espeak-ng (byte 0x01 starts an embedded command such as a
  speed change) and the SSML and phoneme flags are forced off, so markup is read as text.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import difflib
import functools
import hashlib
import importlib.metadata
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from .clip import SAMPLE_RATE, Clip, read_wav
from .config import Settings
from .errors import SpeechError, UsageError

MAX_CHARS = 5000
"""Longest cue we hand to espeak-ng: about 15,000 characters crash it outright."""

RATE_FLOOR = 80
"""espeak-ng speaks any slower rate at this one."""


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    id: str
    """espeak-ng's identifier, e.g. "gmw/en-US": what `resolve_voice` returns."""
    name: str
    languages: tuple[str, ...]


class Synthesizer(Protocol):
    """Turns cue texts into clips; the renderer and player depend on nothing else."""

    @property
    def engine_id(self) -> str:
        """Names the engine and its version, so cached clips of another engine are not reused."""
        ...

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        """One clip per text, in order, each yielded as soon as it and those before it are done."""
        ...


# --- Text ---------------------------------------------------------------------------------

_WHITESPACE_CONTROLS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r" {2,}")


def clean_text(text: str) -> str:
    """What espeak-ng may see: no control characters (they are commands to it), no surrogates."""
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    text = _CONTROLS.sub("", text)
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return _SPACES.sub(" ", text).strip()


def _cue(text: str) -> str:
    """A cue as an error message names it: its start, quoted."""
    text = clean_text(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


# --- Duration model -----------------------------------------------------------------------

_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER = re.compile(r"\d+")
_ALNUM = re.compile(r"[^\W_]")
_SPOKEN_SYMBOL = re.compile(r"[&%#@<>/=+*$€£]|(?<=[^\W_])\.(?=[^\W_])")
_PAUSE = re.compile(r"[,;:\u2014\u2013(\[{]|\s-\s")  # em and en dashes too
_SENTENCE_BREAK = re.compile(r"[.!?]+(?=\s+\S)")
# A number is spoken as words: "5" five, "12" twelve, "123" one hundred and twenty-three.
_NUMBER_LETTERS = {1: 4.0, 2: 7.0, 3: 18.0, 4: 22.0}
_NUMBER_WORDS = {1: 1.0, 2: 1.5, 3: 4.0, 4: 4.5}

# Milliseconds per letter, per word, per pause (comma, bracket), per sentence break, and
# fixed (the pause espeak-ng adds at the end), at each calibrated rate: a least-squares fit
# (relative error) of 1,168 clips of 110 texts (cues, odd texts; en-us, en, de, fr, es).
_CALIBRATION: tuple[tuple[int, tuple[float, float, float, float, float]], ...] = (
    (80, (80.5, 181.8, 629.2, 1204.0, 1194.7)),
    (100, (68.7, 151.5, 513.9, 981.5, 969.5)),
    (120, (58.0, 124.1, 407.1, 791.1, 764.7)),
    (150, (47.4, 95.6, 304.0, 597.8, 559.7)),
    (200, (37.1, 67.8, 195.2, 395.6, 356.5)),
    (250, (31.2, 51.0, 129.3, 271.7, 232.9)),
    (300, (28.6, 34.5, 83.4, 170.9, 142.3)),
    (400, (22.4, 26.8, 24.5, 66.7, 41.3)),
)

BAND = (0.72, 1.42)
"""How far a clip of 12 or more letters may be from `estimate_ms`: 99% of calibration clips
fall inside, while a clip at rate 120 measured against rate 200 (or the reverse) falls outside."""
SHORT_BAND = (0.6, 1.6)
"""The same for shorter texts, where one syllable more or less is a large fraction."""


def _features(text: str) -> tuple[float, float, float, float, float]:
    numbers = _NUMBER.findall(text)
    symbols = len(_SPOKEN_SYMBOL.findall(text))
    letters = len(_LETTER.findall(text)) + 4.0 * symbols
    letters += sum(_NUMBER_LETTERS.get(len(n), 5.0 * len(n)) for n in numbers)
    words = float(len(_WORD.findall(text)) + symbols)
    words += sum(_NUMBER_WORDS.get(len(n), 1.2 * len(n)) for n in numbers)
    pauses = len(_PAUSE.findall(text))
    breaks = len(_SENTENCE_BREAK.findall(text))
    return (letters, words, pauses, breaks, 1.0)


def _coefficients(rate: int) -> tuple[float, ...]:
    rate = max(rate, RATE_FLOOR)
    top_rate, top = _CALIBRATION[-1]
    if rate >= top_rate:
        return tuple(c * top_rate / rate for c in top)
    for (lo_rate, lo), (hi_rate, hi) in itertools.pairwise(_CALIBRATION):
        if lo_rate <= rate <= hi_rate:
            t = (rate - lo_rate) / (hi_rate - lo_rate)
            return tuple(a + t * (b - a) for a, b in zip(lo, hi, strict=True))
    return _CALIBRATION[0][1]


def estimate_ms(text: str, rate: int) -> int:
    """How long espeak-ng takes to say `text` at `rate`, without synthesizing it (about +-20%)."""
    text = clean_text(text)
    if not text:
        return 0
    features = _features(text)
    total = sum(f * c for f, c in zip(features, _coefficients(rate), strict=True))
    return max(1, round(total))


def duration_band(text: str, rate: int) -> tuple[int, int]:
    """The shortest and longest plausible clip for `text` at `rate`, in milliseconds."""
    expected = estimate_ms(text, rate)
    low, high = BAND if len(_ALNUM.findall(text)) >= 12 else SHORT_BAND
    return math.floor(expected * low), math.ceil(expected * high)


def is_plausible(text: str, rate: int, duration_ms: int) -> bool:
    """False for a clip that cannot be `text` at `rate`, e.g. spoken at a rate that was lost."""
    low, high = duration_band(text, rate)
    return low <= duration_ms <= high


# --- Voices -------------------------------------------------------------------------------


def resolve_voice(name: str, voices: Sequence[VoiceInfo] | None = None) -> str:
    """The voice id for an id ("gmw/en-US"), name ("English (America)") or language ("en-us").

    Case-insensitive. Raises UsageError listing close matches: espeak-ng itself silently
    keeps the previous voice when given one it does not know.
    """
    voices = list_voices() if voices is None else voices
    wanted = name.strip().casefold()
    for matches in (
        lambda v: v.id.casefold() == wanted,
        lambda v: v.name.casefold() == wanted,
        lambda v: wanted in (lang.casefold() for lang in v.languages),
        lambda v: v.id.rsplit("/", 1)[-1].casefold() == wanted,
    ):
        for voice in voices:
            if matches(voice):
                return voice.id
    known = {label.casefold(): label for v in voices for label in (v.id, v.name, *v.languages)}
    close = [known[c] for c in difflib.get_close_matches(wanted, list(known), n=5, cutoff=0.6)]
    if close:
        raise UsageError(f"unknown voice {name!r}; close matches: {', '.join(close)}")
    raise UsageError(f"unknown voice {name!r}; none of the {len(voices)} voices is close")


@functools.cache
def list_voices() -> tuple[VoiceInfo, ...]:
    """Every espeak-ng voice, read in a worker process (costs a worker start, then cached)."""
    with Pyttsx3Synthesizer(workers=1) as engine:
        return engine.voices()


# --- The engine, inside a worker process ---------------------------------------------------


class _Engine:
    """pyttsx3 in a worker process, used only in the ways measured to be reliable."""

    def __init__(self, workdir: str) -> None:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        self._espeak: Any = _espeak
        _force_plain_text(_espeak)
        self._engine: Any = pyttsx3.init("espeak")
        self._path = os.path.join(workdir, f"clip-{os.getpid()}.wav")
        self._done = threading.Event()
        self._completed = False
        self._errors: list[str] = []
        self._failures: list[str] = []
        # An exception inside pyttsx3's espeak-ng callback (its WAV write failing on a full
        # disk, say) is only "ignored" by ctypes, and pyttsx3's loop then never ends: catch it,
        # end the loop, and fail the task with the reason at once instead of timing out.
        sys.unraisablehook = self._on_unraisable
        self._engine.connect("finished-utterance", self._on_finished)
        self._engine.connect("error", self._on_error)
        # pyttsx3.init() queues voice, rate and volume in espeak-ng. A runAndWait() while they
        # are pending calls stop(), which leaves a flag behind that cancels the *next*
        # utterance; so wait them out. The first run also empties pyttsx3's start-up queue.
        self._settle(pyttsx3_too=False)
        self._run("Ready.")
        self.version = str(_espeak.Info(None).decode())

    def _on_finished(self, completed: bool = True, **_: object) -> None:
        self._completed = completed
        self._done.set()

    def _on_error(self, exception: object = None, **_: object) -> None:
        self._errors.append(str(exception))

    @property
    def broken(self) -> bool:
        """pyttsx3 failed inside a callback: its state is unknown, so the worker should go."""
        return bool(self._failures)

    def _on_unraisable(self, unraisable: Any) -> None:
        if "ctypes callback" not in (unraisable.err_msg or ""):
            sys.__unraisablehook__(unraisable)
            return
        self._failures.append(str(unraisable.exc_value) or type(unraisable.exc_value).__name__)
        with contextlib.suppress(Exception):  # pyttsx3 2.99's driver, as pinned
            self._engine.proxy._driver.endLoop()  # else runAndWait() waits for ever
        self._done.set()

    def voices(self) -> list[tuple[str, str, tuple[str, ...]]]:
        found: list[tuple[str, str, tuple[str, ...]]] = []
        for voice in self._espeak.ListVoices(None):
            languages = voice.languages[1:].decode("utf-8", "replace") if voice.languages else ""
            found.append(
                (
                    voice.identifier.decode("utf-8", "replace"),
                    voice.name.decode("utf-8", "replace"),
                    (languages,) if languages else (),
                )
            )
        return found

    def _settle(self, pyttsx3_too: bool = True) -> None:
        """Wait until pyttsx3 and espeak-ng are idle: only then is a property set for sure."""
        deadline = time.monotonic() + 10
        while (pyttsx3_too and self._engine.isBusy()) or self._espeak.IsPlaying():
            if time.monotonic() > deadline:
                raise RuntimeError("espeak-ng stayed busy")
            time.sleep(0.0005)

    def speak(self, text: str, voice: str, rate: int, volume: float) -> Clip:
        self._settle()
        self._errors.clear()
        self._engine.setProperty("voice", voice)
        self._engine.setProperty("rate", rate)
        self._engine.setProperty("volume", volume)
        self._settle()
        if self._errors:
            raise RuntimeError(f"cannot set voice {voice!r}, rate {rate}: {self._errors[0]}")
        return self._run(text)

    def _run(self, text: str) -> Clip:
        for _ in range(2):  # a cancelled run clears pyttsx3's stop flag; the second one counts
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._done.clear()
            self._completed = False
            self._failures.clear()
            self._engine.save_to_file(text, self._path)
            self._engine.runAndWait()
            if not self._done.wait(60):
                raise RuntimeError("espeak-ng never finished the utterance")
            if self._failures:
                raise RuntimeError(self._failures[0])
            if self._completed:
                break
            self._settle()
        else:
            raise RuntimeError("espeak-ng cancelled the utterance twice")
        if self._errors:
            raise RuntimeError(self._errors[0])
        return read_wav(Path(self._path))


def _force_plain_text(espeak: Any) -> None:
    """Make every espeak_Synth call treat `<...>` and `[[...]]` as text, whatever pyttsx3 passes.

    pyttsx3 2.99 passes ENDPAUSE | CHARS_UTF8 (no SSML, no PHONEMES); this keeps it that way.
    """
    synth = espeak.Synth
    markup = espeak.SSML | espeak.PHONEMES

    def plain_synth(*args: Any, flags: int = 0, **kwargs: Any) -> Any:
        return synth(*args, flags=flags & ~markup, **kwargs)

    espeak.Synth = plain_synth


_STARTUP_BLOCKED = {signal.SIGINT, signal.SIGTERM}
"""Blocked while a worker is spawned, and in the worker until it has set itself up."""


def _worker_main(conn: Connection, workdir: str, log: str) -> None:
    """A worker process: start an engine, report ("ready", ...), then speak one task at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STARTUP_BLOCKED)  # blocked by `_Worker.start`
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # pyttsx3 prints "Audio saved to ..." for every file
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(logfd, 2)  # a crash report from glibc lands here; the parent quotes it
    started = time.perf_counter()
    try:
        engine = _Engine(workdir)
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", engine.voices(), engine.version, time.perf_counter() - started))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, text, voice, rate, volume = task
        started = time.perf_counter()
        try:
            clip = engine.speak(text, voice, rate, volume)
        except Exception as exc:
            conn.send(("error", task_id, str(exc) or type(exc).__name__))
            if engine.broken:
                return  # the parent starts a fresh worker in its place
        else:
            seconds = time.perf_counter() - started
            conn.send(("clip", task_id, clip.pcm, clip.sample_rate, seconds))


# --- The engine, seen from the parent -----------------------------------------------------

_LIBRARIES = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak-ng.1.dylib", "libespeak.so.1")


@functools.cache
def _espeak_version() -> str:
    """espeak-ng's version, read without starting it; SpeechError when it is not installed."""
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


def _engine_id() -> str:
    """The engine's id, "pyttsx3-2.99/espeak-ng-1.51": what produced a clip, for cache keys."""
    try:
        pyttsx3 = importlib.metadata.version("pyttsx3")
    except importlib.metadata.PackageNotFoundError:
        raise SpeechError("speech needs pyttsx3, which is not installed") from None
    return f"pyttsx3-{pyttsx3}/espeak-ng-{_espeak_version()}"


@dataclass(slots=True)
class _Task:
    index: int
    text: str
    id: int = 0
    attempt: int = 0
    first_ms: int = 0
    abandoned: bool = False


class _Worker:
    """One worker process and the task it is speaking."""

    def __init__(self, ctx: Any, workdir: str, serial: int) -> None:
        self.log = os.path.join(workdir, f"worker-{serial}.log")
        self.conn, self._child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main,
            args=(self._child, workdir, self.log),
            name=f"voiceguide-speech-{serial}",
            daemon=True,
        )
        self.ready = False
        self.task: _Task | None = None
        self.deadline = math.inf

    def start(self) -> None:
        # Ctrl-C and SIGTERM wait while the worker is spawned: the parent's KeyboardInterrupt
        # cannot strike inside Process.start() (leaving a worker nobody stops), and the worker
        # inherits them blocked, so a Ctrl-C while it starts stays pending until `_worker_main`
        # ignores it (else the starting worker prints a KeyboardInterrupt traceback). Deferred
        # for these few milliseconds, not lost. multiprocessing's resource tracker starts the
        # same way but then *unblocks* both, so it is started first.
        resource_tracker.ensure_running()
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STARTUP_BLOCKED)
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        self._child.close()

    def crash_report(self) -> str:
        """The worker's last error line on stderr (e.g. "*** stack smashing detected ***")."""
        try:
            lines = Path(self.log).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        lines = [line.strip() for line in lines if line.strip()]
        errors = [line for line in lines if "Error" in line or "***" in line]
        return (errors or lines or [""])[-1]

    def stop(self, kill: bool = False) -> None:
        if self.process.pid is None:  # never started
            self._child.close()
            self.conn.close()
            return
        if not kill:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()
        with contextlib.suppress(ValueError):
            self.process.close()


def _shutdown(workers: list[_Worker], workdir: str) -> None:
    for worker in workers:
        worker.stop()
    workers.clear()
    shutil.rmtree(workdir, ignore_errors=True)


class Pyttsx3Synthesizer:
    """The real engine: pyttsx3 driving espeak-ng in a small pool of worker processes.

    Workers start on first use (or `start()`, to overlap their start-up with other work) and
    live until `close()`. One `synthesize` at a time; not thread-safe.
    """

    def __init__(
        self, workers: int | None = None, timeout: float = 20.0, startup_timeout: float = 30.0
    ) -> None:
        self.engine_id = _engine_id()  # raises SpeechError when espeak-ng is missing
        self.size = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
        self.timeout = timeout
        """Seconds one text may take (plus 1 ms per character) before its worker is killed."""
        self.startup_timeout = startup_timeout
        self.retries = 0
        """Clips re-synthesized because the first came out implausible (a lost setting)."""
        self.startup_seconds: list[float] = []
        """How long each worker took to import pyttsx3, start espeak-ng and speak a first word."""
        self._ctx = multiprocessing.get_context("spawn")
        self._workdir = tempfile.mkdtemp(prefix="voiceguide-speech-")
        self._workers: list[_Worker] = []
        self._serial = 0
        self._task_ids = 0
        self._voices: tuple[VoiceInfo, ...] | None = None
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, self._workdir)

    def __enter__(self) -> Pyttsx3Synthesizer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and remove their scratch files."""
        self._finalizer()

    def start(self) -> None:
        """Start the workers now, without waiting: the first can speak about 0.15 s later."""
        if not self._finalizer.alive:
            raise SpeechError("the speech engine was closed")
        while len(self._workers) < self.size:
            self._serial += 1
            worker = _Worker(self._ctx, self._workdir, self._serial)
            self._workers.append(worker)  # first, so a Ctrl-C from here on still stops it
            try:
                worker.start()
            except Exception:
                self._workers.remove(worker)
                worker.stop()
                raise

    def voices(self) -> tuple[VoiceInfo, ...]:
        """espeak-ng's voices, as reported by the first worker to start."""
        self.start()
        deadline = time.monotonic() + self.startup_timeout
        while self._voices is None:
            if time.monotonic() > deadline:
                raise SpeechError(f"the speech engine did not start in {self.startup_timeout} s")
            self._pump(min(deadline - time.monotonic(), 0.5))
        return self._voices

    def resolve_voice(self, name: str) -> str:
        return resolve_voice(name, self.voices())

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        self.start()  # workers start while the caller gets on with other things
        return self._synthesize(list(texts), settings)

    def _synthesize(self, texts: list[str], settings: Settings) -> Iterator[Clip]:
        voice = self.resolve_voice(settings.voice)
        rate = int(settings.rate)
        volume = min(1.0, max(0.0, float(settings.volume)))
        results: dict[int, Clip | SpeechError] = {}
        pending: deque[_Task] = deque()
        for index, raw in enumerate(texts):
            text = clean_text(raw)
            if not text:
                results[index] = Clip(b"")
            elif len(text) > MAX_CHARS:
                results[index] = SpeechError(
                    f"cue too long to speak ({len(text)} characters, at most {MAX_CHARS}): "
                    f"{_cue(text)}"
                )
            else:
                pending.append(_Task(index, text))
        mine: list[_Task] = []
        try:
            for index in range(len(texts)):
                while index not in results:
                    self._dispatch(pending, mine, voice, rate, volume)
                    for task, outcome in self._pump(self._wait_time()):
                        if not task.abandoned:
                            self._judge(task, outcome, rate, pending, results)
                result = results.pop(index)
                if isinstance(result, SpeechError):
                    raise result
                yield result
        finally:
            for task in mine:
                task.abandoned = True  # a worker still speaking it will be heard and ignored

    def _dispatch(
        self, pending: deque[_Task], mine: list[_Task], voice: str, rate: int, volume: float
    ) -> None:
        self.start()
        for worker in self._workers:
            if not pending:
                return
            if worker.task is None:
                task = worker.task = pending.popleft()
                self._task_ids += 1
                task.id = self._task_ids
                mine.append(task)
                startup = 0.0 if worker.ready else self.startup_timeout
                budget = self.timeout + len(task.text) / 1000 + startup
                worker.deadline = time.monotonic() + budget
                message = (task.id, task.text, voice, self._rate_for(task, rate), volume)
                with contextlib.suppress(OSError):  # a dead worker: `_pump` reports the crash
                    worker.conn.send(message)

    def _rate_for(self, task: _Task, rate: int) -> int:
        """The rate sent to the engine; a seam for tests that simulate a lost setting."""
        return rate

    def _judge(
        self,
        task: _Task,
        outcome: Clip | SpeechError,
        rate: int,
        pending: deque[_Task],
        results: dict[int, Clip | SpeechError],
    ) -> None:
        """Accept a clip, retry it once if its length is implausible, or record the error."""
        if isinstance(outcome, Clip) and not is_plausible(task.text, rate, outcome.duration_ms):
            got = outcome.duration_ms
            if task.attempt == 0:
                self.retries += 1
                pending.appendleft(_Task(task.index, task.text, attempt=1, first_ms=got))
                return
            if abs(got - task.first_ms) > 0.08 * task.first_ms:
                low, high = duration_band(task.text, rate)
                outcome = SpeechError(
                    f"speech engine produced a wrong clip twice for {_cue(task.text)}: "
                    f"{task.first_ms} and {got} ms, expected {low}-{high} ms at rate {rate} "
                    "(a voice setting was lost)"
                )
        results[task.index] = outcome

    def _wait_time(self) -> float:
        busy = [w.deadline for w in self._workers if w.task is not None]
        return max(0.0, min(busy) - time.monotonic()) if busy else 0.0

    def _pump(self, timeout: float) -> list[tuple[_Task, Clip | SpeechError]]:
        """Wait up to `timeout` for workers; return finished tasks, replace dead workers."""
        done: list[tuple[_Task, Clip | SpeechError]] = []
        by_conn: dict[object, _Worker] = {w.conn: w for w in self._workers}
        by_sentinel: dict[object, _Worker] = {w.process.sentinel: w for w in self._workers}
        ready = multiprocessing.connection.wait(
            [w.conn for w in self._workers] + list(by_sentinel), timeout
        )
        dead: list[_Worker] = []
        for handle in ready:
            worker = by_conn.get(handle)
            if worker is None:
                dead.append(by_sentinel[handle])
                continue
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                dead.append(worker)
                continue
            self._receive(worker, message, done)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task is not None and now > worker.deadline and worker not in dead:
                task = worker.task
                worker.stop(kill=True)
                self._workers.remove(worker)
                done.append(
                    (task, SpeechError(f"speech engine timed out speaking {_cue(task.text)}"))
                )
        for worker in dict.fromkeys(dead):
            with contextlib.suppress(EOFError, OSError):
                while worker.conn.poll():
                    self._receive(worker, worker.conn.recv(), done)
            worker.process.join(1.0)
            report = worker.crash_report()
            code = worker.process.exitcode
            worker.stop(kill=True)
            self._workers.remove(worker)
            how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
            why = f"{how}: {report}" if report else how
            if not worker.ready:  # not the text's fault, and a new worker would fail the same way
                raise SpeechError(f"the speech engine cannot start ({why})")
            if worker.task is not None:
                message = f"speech engine crashed ({why}) speaking {_cue(worker.task.text)}"
                done.append((worker.task, SpeechError(message)))
        return done

    def _receive(
        self, worker: _Worker, message: tuple[Any, ...], done: list[tuple[_Task, Any]]
    ) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            self.startup_seconds.append(message[3])
            if self._voices is None:
                self._voices = tuple(VoiceInfo(i, n, tuple(ls)) for i, n, ls in message[1])
            if worker.task is not None:
                worker.deadline = time.monotonic() + self.timeout + len(worker.task.text) / 1000
        elif kind == "failed":
            raise SpeechError(f"the speech engine cannot start: {message[1]}")
        elif worker.task is not None and message[1] == worker.task.id:
            task, worker.task, worker.deadline = worker.task, None, math.inf
            if kind == "clip":
                done.append((task, Clip(message[2], message[3])))
            else:
                error = f"speech engine failed speaking {_cue(task.text)}: {message[2]}"
                done.append((task, SpeechError(error)))


# --- A fake engine for tests ------------------------------------------------------------------


class FakeSynthesizer:
    """A deterministic stand-in for tests: no processes, no espeak-ng.

    Each clip is a tone lasting `estimate_ms(text, rate)`, so timing code sees realistic
    lengths; the voice picks the pitch and the volume the loudness, so they change the audio.
    `calls` records every batch it was asked for (what a cache sent on, for instance).
    """

    engine_id = "fake-1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        batch = tuple(texts)
        self.calls.append(batch)
        return (self.clip(text, settings) for text in batch)

    @staticmethod
    def clip(text: str, settings: Settings) -> Clip:
        """The clip `synthesize` yields for `text`."""
        frames = estimate_ms(text, settings.rate) * SAMPLE_RATE // 1000
        period = 40 + hashlib.sha256(settings.voice.encode()).digest()[0] % 24
        amplitude = 12000 * min(1.0, max(0.0, settings.volume))
        cycle = array.array(
            "h", (round(amplitude * math.sin(2 * math.pi * i / period)) for i in range(period))
        )
        if sys.byteorder == "big":
            cycle.byteswap()
        pcm = cycle.tobytes() * (frames // period + 1)
        return Clip(pcm[: 2 * frames])
