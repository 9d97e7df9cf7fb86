"""Speech: the Synthesizer interface, the pyttsx3/espeak-ng engine, and a fake for tests.

What `--rate` means. pyttsx3's rate is espeak-ng's nominal words per minute; what you hear
differs. Measured with espeak-ng 1.51, voice en-us, on 423 words of cue text (40 cues
read as one text, so the pauses at commas and full stops count):

    nominal rate     60   80  100  150  200  250  300  400
    effective wpm    83   83   99  152  207  263  322  442

espeak-ng clamps rates below 80 to 80, so 60 and 80 sound the same.

Why the engine is wrapped the way it is (pyttsx3 2.99, espeak-ng 1.51 on Linux, all measured):

- Only pyttsx3's ctypes binding of espeak-ng (`pyttsx3/drivers/_espeak.py`) is used, not its
  engine loop, which was slow and racy: `runAndWait()` sleeps 10 ms per run; it cancels
  espeak-ng's pending queue, settings included (78 of 200 clips came out at the wrong rate
  until every setting was waited out), and leaves a flag behind that cancels the *next*
  utterance; it returns before its WAV file is written; only the last `save_to_file` of a
  run is spoken; and each prints a line to stdout. Instead a worker initializes espeak-ng
  for synchronous output (`AUDIO_OUTPUT_SYNCHRONOUS`): `espeak_Synth` returns once the whole
  text has gone through a callback that copies the samples into memory, and
  `espeak_SetParameter` (rate, volume) and `espeak_SetVoiceByName` take effect at once, with
  no queue to race, so those races are gone at their root. The clip format is the rate
  `espeak_Initialize` returns (22050 Hz), mono 16-bit. One process speaks the 63 cues of
  upper-back in about 0.25 s this way (4 ms each), no temporary files.
- espeak-ng crashes on some texts (`"s'" * 220` smashes its stack; CVE-2023-49990..49994),
  so synthesis runs in worker processes, with a timeout: a crash costs one cue (a
  SpeechError naming it) and a new worker, not the program. A worker is a small script
  (`_worker.py`, run as `python -I -S`) that imports little beyond ctypes, and loads the
  binding from its file so that the pyttsx3 package and its engine are not imported: it is
  ready in about 20 ms, where a multiprocessing "spawn" child that imported all of this
  module took 0.13 s (and multiprocessing started its resource tracker too, a third
  interpreter on two cores). Workers are started with `posix_spawn` (Ctrl-C and SIGTERM held
  back meanwhile) and speak a small binary protocol on their stdin and stdout; a worker's
  fd 1 is otherwise /dev/null, and its stderr an anonymous file, quoted when it dies
  ("*** stack smashing detected ***"). Each worker has up to two texts in hand, so it starts
  the next while the caller caches the last. They are stopped all at once: end of input
  makes an idle one exit at once, a busy one is killed.
- espeak-ng carries state from one text to the next within a process: the same text comes
  out a few samples different every time, and up to 4% longer or shorter depending on the
  text spoken before (the command line, one process per call, is deterministic). The main
  carrier is the phase of its pitch "flutter", a static counter in wavegen.c that only
  start-up resets; neither espeak_Cancel, espeak_Synchronize nor setting the voice again
  resets it (a voice variant without flutter comes out nearly the same every time). Setting
  voices moves the state on too: some 75 voice changes later, every clip comes out a little
  different. With `deterministic=True` a worker forks a fresh child for each clip from a
  state in which espeak-ng has only been initialized, and the child sets voice, rate and
  volume and speaks: every clip then depends only on its text, voice, rate and volume, and
  equals what the command line writes, bit for bit. That costs about 3 ms of CPU a clip
  (the fork, the pages it copies, its exit): 63 cues take 0.25 s instead of 0.13 s on two
  cores, a quarter more for a cold export. So it is off by default, and only cached clips
  are bit-for-bit repeatable. Forking is safe here (it hung after `pyttsx3.init()`):
  espeak-ng's one other thread is idle in synchronous mode, waiting with no lock held.
- Every clip's length is checked against `duration_band` (a model of length from text and
  rate, fitted to 1,168 clips of 110 texts in 5 voices): a clip at a lost setting is retried
  once, then rejected. A retry that comes out the same length as the first attempt (within
  8%) is espeak-ng's stable answer for an unusual text (a URL, acronyms) and is accepted.
- Control characters never reach espeak-ng (byte 0x01 starts an embedded command such as a
  speed change) and the SSML and phoneme flags are forced off, so markup is read as text.
- Only what the engine needs is imported: the duration model and text cleaning live in
  `estimate`, so `voiceguide list` and `show --estimate` never import this module; pyttsx3's
  version is read from its dist-info folder's name, not with importlib.metadata.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import select
import signal
import sys
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from . import _worker as protocol
from .clip import SAMPLE_RATE, Clip
from .config import Settings
from .errors import SpeechError, UsageError
from .estimate import BAND as BAND
from .estimate import MAX_CHARS as MAX_CHARS
from .estimate import RATE_FLOOR as RATE_FLOOR
from .estimate import SHORT_BAND as SHORT_BAND
from .estimate import clean_text as clean_text
from .estimate import duration_band as duration_band
from .estimate import estimate_ms as estimate_ms
from .estimate import is_plausible as is_plausible


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


def _cue(text: str) -> str:
    """A cue as an error message names it: its start, quoted."""
    text = clean_text(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


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
    import difflib

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
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                project, _, rest = name.partition("-")
                if project.lower() == "pyttsx3" and rest.endswith(".dist-info"):
                    return rest.removesuffix(".dist-info"), binding
        import importlib.metadata

        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version("pyttsx3"), binding
    raise SpeechError("speech needs pyttsx3, which is not installed")


def _engine_id() -> str:
    """The engine's id, "pyttsx3-2.99/espeak-ng-1.51": what produced a clip, for cache keys."""
    version = _espeak_version()  # first: a missing espeak-ng is the likelier problem
    return f"pyttsx3-{_pyttsx3()[0]}/espeak-ng-{version}"


# --- The engine, seen from the parent -----------------------------------------------------


@dataclass(slots=True)
class _Task:
    index: int
    text: str
    id: int = 0
    attempt: int = 0
    first_ms: int = 0
    abandoned: bool = False


def _high_fd(fd: int) -> int:
    """`fd`, moved above 0-2 if need be: a pipe end that was 0, 1 or 2 already would keep its
    close-on-exec flag through the spawn's dup2, and so never reach the worker."""
    if fd > 2:
        return fd
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _anonymous_file() -> int:
    """A file with no name, for a worker's stderr: nothing to clean up, whatever happens."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return _high_fd(os.memfd_create("voiceguide-speech"))
    import tempfile

    with tempfile.TemporaryFile() as file:
        return _high_fd(os.dup(file.fileno()))


class _Worker:
    """One worker process, its pipes, and the tasks sent to it."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.pid = 0
        self.to_worker = -1
        self.from_worker = -1
        self.log = -1
        self.log_seen = 0
        self.buffer = bytearray()
        self.ready = False
        self.spawned = 0.0
        self.tasks: deque[_Task] = deque()
        """Sent to the worker, in order: the first is being spoken, the next waits its turn."""
        self.deadline = math.inf
        """When the first task is overdue."""
        self.exit_code: int | None = None
        self.asks_voices = False

    def start(self, binding: str, fork: bool) -> None:
        child_in, self.to_worker = (_high_fd(fd) for fd in os.pipe())
        try:
            self.from_worker, child_out = (_high_fd(fd) for fd in os.pipe())
        except BaseException:
            os.close(child_in)
            raise
        try:
            self.log = _anonymous_file()
            self._spawn(binding, fork, child_in, child_out)
        finally:
            os.close(child_in)
            os.close(child_out)

    def _spawn(self, binding: str, fork: bool, child_in: int, child_out: int) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a clip in one write
            import fcntl

            fcntl.fcntl(self.from_worker, fcntl.F_SETPIPE_SZ, 1 << 20)
        argv = [sys.executable, "-I", "-S", protocol.__file__, binding]
        if self.asks_voices:
            argv.append("--voices")
        if fork:
            argv.append("--fork")
        actions = [
            (os.POSIX_SPAWN_DUP2, child_in, 0),
            (os.POSIX_SPAWN_DUP2, child_out, 1),
            (os.POSIX_SPAWN_DUP2, self.log, 2),
        ]
        # Ctrl-C and SIGTERM wait while the worker is spawned: the parent's KeyboardInterrupt
        # cannot strike between the spawn and recording the pid (leaving a worker nobody
        # stops), and the worker starts with them blocked, so a Ctrl-C to the whole process
        # group stays pending until the worker ignores it (else it would print a traceback).
        # Deferred for about a millisecond, not lost.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, protocol.STARTUP_BLOCKED)
        try:
            self.spawned = time.monotonic()
            self.pid = os.posix_spawn(
                sys.executable,
                argv,
                os.environ,
                file_actions=actions,
                setsigmask=protocol.STARTUP_BLOCKED,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)

    def send(self, message: bytes) -> None:
        view = memoryview(message)
        with contextlib.suppress(OSError):  # a dead worker: `_pump` reports the crash
            while view:
                view = view[os.write(self.to_worker, view) :]

    def receive(self) -> list[tuple[int, int, int, bytes]] | None:
        """The whole messages that have arrived, or None when the worker has gone."""
        try:
            data = os.read(self.from_worker, 1 << 20)
        except OSError:
            data = b""
        if not data:
            return None
        buffer = self.buffer
        buffer += data
        messages = []
        while len(buffer) >= protocol.REPLY.size:
            kind, task_id, value, size = protocol.REPLY.unpack_from(buffer)
            end = protocol.REPLY.size + size
            if len(buffer) < end:
                break
            messages.append((kind, task_id, value, bytes(buffer[protocol.REPLY.size : end])))
            del buffer[:end]
        return messages

    def crash_report(self) -> str:
        """The worker's last error line on stderr since the last report (e.g. "*** stack
        smashing detected ***")."""
        try:
            size = os.fstat(self.log).st_size
            start = max(self.log_seen, size - 8192)
            text = os.pread(self.log, size - start, start).decode("utf-8", "replace")
            self.log_seen = size
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line or "***" in line]
        return (errors or lines or [""])[-1]

    def close_input(self) -> None:
        """End the worker's input: an idle worker exits at once."""
        if self.to_worker >= 0:
            os.close(self.to_worker)
            self.to_worker = -1

    def kill(self) -> None:
        if self.pid and self.exit_code is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

    def reap(self, block: bool) -> bool:
        """Collect the worker's exit status; True once it has exited (or was never started)."""
        if not self.pid or self.exit_code is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.exit_code = 0
            return True
        if pid == 0:
            return False
        self.exit_code = os.waitstatus_to_exitcode(status)
        return True

    def release(self) -> None:
        """Close every file descriptor (after `reap`)."""
        self.close_input()
        for fd in (self.from_worker, self.log):
            if fd >= 0:
                os.close(fd)
        self.from_worker = self.log = -1


def _stop(workers: list[_Worker], grace: float = 1.0, release: bool = True) -> None:
    """Stop workers all at once: end their input, then give them `grace` seconds together;
    kill a busy one at once (its clip is not wanted any more), and any left at the end."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, protocol.STARTUP_BLOCKED)
    try:  # a second Ctrl-C cannot leave workers behind: it waits the few milliseconds this takes
        for worker in workers:
            worker.close_input()
            if worker.tasks:
                worker.kill()
        deadline = time.monotonic() + grace
        pending = [w for w in workers if not w.reap(block=False)]
        while pending and time.monotonic() < deadline:
            time.sleep(0.001)
            pending = [w for w in pending if not w.reap(block=False)]
        for worker in pending:
            worker.kill()
            worker.reap(block=True)
        if release:
            for worker in workers:
                worker.release()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _shutdown(workers: list[_Worker]) -> None:
    _stop(list(workers))
    workers.clear()


class Pyttsx3Synthesizer:
    """The real engine: espeak-ng, through pyttsx3's binding, in a small pool of worker
    processes.

    Workers start on first use (or `start()`, to overlap their start-up with other work) and
    live until `close()`. One `synthesize` at a time; not thread-safe.
    """

    QUEUE = 2
    """Tasks sent to a worker at a time: it starts the next as soon as it has sent a clip,
    while the caller is still busy with the last one (caching it, say)."""

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 20.0,
        startup_timeout: float = 30.0,
        *,
        deterministic: bool = False,
    ) -> None:
        self.engine_id = _engine_id()  # raises SpeechError when espeak-ng or pyttsx3 is missing
        self.deterministic = deterministic
        """Speak every clip from espeak-ng's state at start-up, in a fork of its worker: the
        same text, voice, rate and volume give the same samples, bit for bit, whatever was
        spoken before (as the espeak-ng command line does). Costs about 3 ms of CPU a clip, a
        quarter more for a cold export; off, a clip may differ by a few samples and up to 4%
        in length depending on what its worker spoke before."""
        self._binding = _pyttsx3()[1]
        self.size = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
        self.timeout = timeout
        """Seconds one text may take (plus 1 ms per character) before its worker is killed."""
        self.startup_timeout = startup_timeout
        self.retries = 0
        """Clips re-synthesized because the first came out implausible (a lost setting)."""
        self.startup_seconds: list[float] = []
        """How long each worker took from its spawn to being ready to speak."""
        self._workers: list[_Worker] = []
        self._serial = 0
        self._task_ids = 0
        self._voices: tuple[VoiceInfo, ...] | None = None
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)

    def __enter__(self) -> Pyttsx3Synthesizer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (in parallel)."""
        self._finalizer()

    def start(self) -> None:
        """Start the workers now, without waiting: the first can speak about 25 ms later."""
        if not self._finalizer.alive:
            raise SpeechError("the speech engine was closed")
        while len(self._workers) < self.size:
            self._serial += 1
            worker = _Worker(self._serial)
            self._workers.append(worker)  # first, so a Ctrl-C from here on still stops it
            # One worker lists the voices (5-10 ms), the first started while they are unknown.
            worker.asks_voices = self._voices is None and not any(
                w.asks_voices for w in self._workers
            )
            try:
                worker.start(self._binding, fork=self.deterministic)
            except Exception as exc:
                self._workers.remove(worker)
                _stop([worker])
                raise SpeechError(f"the speech engine cannot start: {exc}") from exc

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
        volume = int(round(100 * min(1.0, max(0.0, float(settings.volume))), 2))  # as pyttsx3
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
                    again: list[_Task] = []
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

    def _dispatch(
        self, pending: deque[_Task], mine: list[_Task], voice: str, rate: int, volume: int
    ) -> None:
        self.start()
        for slot in range(self.QUEUE):  # one task to every worker first, then a second
            for worker in self._workers:
                if not pending:
                    return
                if len(worker.tasks) > slot:
                    continue
                task = pending.popleft()
                self._task_ids += 1
                task.id = self._task_ids
                mine.append(task)
                if not worker.tasks:
                    worker.deadline = self._deadline(worker, task)
                worker.tasks.append(task)
                voice_data, text_data = voice.encode(), task.text.encode()
                header = protocol.REQUEST.pack(
                    task.id, self._rate_for(task, rate), volume, len(voice_data), len(text_data)
                )
                worker.send(header + voice_data + text_data)

    def _deadline(self, worker: _Worker, task: _Task) -> float:
        """When the worker must have spoken `task`, starting now (and starting up first)."""
        startup = 0.0 if worker.ready else self.startup_timeout
        return time.monotonic() + self.timeout + len(task.text) / 1000 + startup

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
        busy = [w.deadline for w in self._workers if w.tasks]
        return max(0.0, min(busy) - time.monotonic()) if busy else 0.0

    def _pump(self, timeout: float) -> list[tuple[_Task, Clip | SpeechError | None]]:
        """Wait up to `timeout` for workers; return finished tasks (None: to be sent again,
        as the worker that had it died before starting it), and stop dead or late workers."""
        done: list[tuple[_Task, Clip | SpeechError | None]] = []
        by_fd = {w.from_worker: w for w in self._workers}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        dead: list[_Worker] = []
        for fd, _ in poller.poll(max(0, math.ceil(timeout * 1000))):
            worker = by_fd[fd]
            messages = worker.receive()
            if messages is None:
                dead.append(worker)
                continue
            for message in messages:
                self._receive(worker, message, done)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.tasks and now > worker.deadline and worker not in dead:
                task, *waiting = worker.tasks
                self._workers.remove(worker)
                _stop([worker], grace=0.0)
                done.append(
                    (task, SpeechError(f"speech engine timed out speaking {_cue(task.text)}"))
                )
                done += [(other, None) for other in waiting]
        for worker in dead:
            self._workers.remove(worker)
            _stop([worker], release=False)
            why = self._why(worker, worker.exit_code)
            worker.release()
            if not worker.ready:  # not the text's fault, and a new worker would fail the same way
                raise SpeechError(f"the speech engine cannot start ({why})")
            if worker.tasks:
                task, *waiting = worker.tasks
                error = f"speech engine crashed ({why}) speaking {_cue(task.text)}"
                done.append((task, SpeechError(error)))
                done += [(other, None) for other in waiting]
        return done

    @staticmethod
    def _why(worker: _Worker, code: int | None) -> str:
        """How a worker or a clip ended: "signal 6: *** stack smashing detected ***"."""
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        report = worker.crash_report()
        return f"{how}: {report}" if report else how

    def _receive(
        self,
        worker: _Worker,
        message: tuple[int, int, int, bytes],
        done: list[tuple[_Task, Clip | SpeechError | None]],
    ) -> None:
        kind, task_id, value, payload = message
        if kind == protocol.READY:
            worker.ready = True
            self.startup_seconds.append(time.monotonic() - worker.spawned)
            records = payload.decode("utf-8", "replace").split(protocol.RECORD)
            if self._voices is None and len(records) > 1:
                fields = [record.split(protocol.FIELD) for record in records[1:]]
                self._voices = tuple(
                    VoiceInfo(i, n, (lang,) if lang else ()) for i, n, lang in fields
                )
            if worker.tasks:
                worker.deadline = self._deadline(worker, worker.tasks[0])
        elif kind == protocol.FAILED:
            raise SpeechError(f"the speech engine cannot start: {payload.decode(errors='replace')}")
        elif worker.tasks and task_id == worker.tasks[0].id:
            task = worker.tasks.popleft()
            worker.deadline = self._deadline(worker, worker.tasks[0]) if worker.tasks else math.inf
            if kind == protocol.CLIP:
                done.append((task, Clip(_little_endian(payload), value)))
            elif value != 0:  # the clip's process died
                error = (
                    f"speech engine crashed ({self._why(worker, value)}) speaking {_cue(task.text)}"
                )
                done.append((task, SpeechError(error)))
            else:
                reason = payload.decode("utf-8", "replace")
                error = f"speech engine failed speaking {_cue(task.text)}: {reason}"
                done.append((task, SpeechError(error)))


def _little_endian(pcm: bytes) -> bytes:
    """espeak-ng's samples are in the machine's byte order; a Clip's are little-endian."""
    if sys.byteorder == "little":
        return pcm
    import array

    samples = array.array("h", pcm)
    samples.byteswap()
    return samples.tobytes()


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
        import array
        import hashlib

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
