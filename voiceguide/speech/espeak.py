"""espeak-ng: the fastest engine, and the one for its 130 other languages.

pyttsx3's ctypes binding of espeak-ng, in small posix_spawn'ed worker processes
(`_espeak_worker.py`) that synthesize synchronously into shared memory; a crash or hang costs
one cue, never the program. Why it is built this way, measured: docs/espeak-engine.md.
POSIX only; on Windows the `natural` and `system` engines speak.
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
from dataclasses import dataclass, replace

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError
from ..estimate import clean_text, duration_band, is_plausible
from . import _espeak_worker as protocol
from .base import VoiceInfo, resolve_voice, too_long
from .base import cue as _cue
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
    return f"espeak/pyttsx3-{_pyttsx3()[0]}/espeak-ng-{version}/{FINISH}"


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


class EspeakEngine:
    """The real engine: espeak-ng, through pyttsx3's binding, in a small pool of worker
    processes.

    Workers start on first use (or `start()`, to overlap their start-up with other work) and
    live until `close()`. One `synthesize` at a time; not thread-safe.
    """

    name = "espeak"
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

    def __enter__(self) -> EspeakEngine:
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
        pending: deque[_Task] = deque()
        for index, raw in enumerate(texts):
            text = clean_text(raw)
            if not text:
                results[index] = Clip(b"")
            elif error := too_long(text):
                results[index] = error
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
            if abs(got - task.first_ms) > max(0.08 * task.first_ms, SAME_MS):
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


def unavailable() -> str | None:
    """Why this engine cannot speak here, or None when it can (cheap: no worker is started)."""
    if not hasattr(os, "posix_spawn"):
        return "espeak needs a POSIX system"
    try:
        _engine_id()
    except SpeechError as exc:
        return str(exc)
    return None
