"""Worker processes for the engines that need an interpreter of their own (natural, system):
the model is loaded once per worker, and a crash or hang of the engine costs one cue (a
SpeechError naming it) and a new worker, never the program.

Cross-platform: plain subprocess pipes and one reader thread per worker (select() does not work
on Windows pipes). Workers run in a session of their own, so a Ctrl-C at the terminal reaches
only the parent, which stops them; a worker whose parent is gone sees its input end and exits.
The protocol and the worker's loop: `serving`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Self

from ..clip import Clip
from ..errors import SpeechError
from .base import VoiceInfo
from .base import cue as _cue
from .serving import CLIP, FAILED, READY, REPLY, REQUEST
from .serving import ERROR as ERROR  # the protocol and the worker's loop, importable from here
from .serving import Backend as Backend
from .serving import serve as serve

HOST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_host.py")

ONE_THREAD = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
"""Each worker computes on one core: two workers on two cores, no oversubscription."""
HEAP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
"""glibc gives a worker's buffers of 1 MB and more (audio, the model's outputs) their own
mappings, returned when freed. Left to itself it raises that threshold after each large free,
up to 32 MB, and a natural worker's heap crept from 225 to 270 MB over 30 cues of 80 words
(230 MB with this, and 239 MB over 260 such cues; those 30 took 9.5 s instead of 7.2 s, the
new pages' cost; giving memory back after each cue with malloc_trim kept 255 MB)."""


@dataclass(slots=True)
class Task:
    index: int
    text: str
    request: dict[str, Any]
    id: int = 0
    abandoned: bool = False


@dataclass(eq=False)
class _Worker:
    serial: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    ready: bool = False
    tasks: deque[Task] = field(default_factory=deque)
    deadline: float = float("inf")

    def send(self, request: dict[str, Any]) -> None:
        data = json.dumps(request).encode()
        assert self.process.stdin is not None
        with contextlib.suppress(OSError, ValueError):  # a dead worker: its reader reports it
            self.process.stdin.write(REQUEST.pack(len(data)) + data)
            self.process.stdin.flush()

    def why(self) -> str:
        """How it ended: "exit 1: MemoryError" or "signal 9"."""
        code = self.process.poll()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        try:
            self.log.seek(0)
            lines = [line.strip() for line in self.log.read()[-8192:].decode().splitlines()]
        except (OSError, ValueError, UnicodeDecodeError):
            lines = []
        lines = [line for line in lines if line]
        return f"{how}: {lines[-1]}" if lines else how

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        if self.tasks or self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError, ValueError):
            self.log.close()
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdout is not None:
                self.process.stdout.close()


def _read(
    worker: _Worker, events: queue.Queue[tuple[_Worker, tuple[int, int, int, bytes] | None]]
) -> None:
    """The reader thread: every message of one worker onto the shared queue; None at its end."""
    stream = worker.process.stdout
    assert stream is not None
    try:
        while True:
            head = stream.read(REPLY.size)
            if len(head) < REPLY.size:
                break
            kind, task_id, value, size = REPLY.unpack(head)
            payload = stream.read(size)
            if len(payload) < size:
                break
            events.put((worker, (kind, task_id, value, payload)))
    except (OSError, ValueError):
        pass
    events.put((worker, None))


SCRATCH = "VOICEGUIDE_WORKER_FOLDER"
"""The environment variable naming a pool's scratch folder to its workers."""


def _stop_all(workers: list[_Worker], scratch: str | None = None) -> None:
    for worker in workers:
        with contextlib.suppress(OSError, ValueError):
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        if worker.tasks:
            with contextlib.suppress(OSError):
                worker.process.kill()
    for worker in workers:
        worker.stop()
    workers.clear()
    if scratch is not None:  # after the workers: none of them writes there any more
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


class Pool:
    """A few workers of one engine, each with up to QUEUE requests in hand."""

    QUEUE = 2

    def __init__(
        self,
        engine: str,
        *,
        size: int,
        timeout: float = 30.0,
        startup_timeout: float = 60.0,
        scratch: bool = False,
    ) -> None:
        self.engine = engine
        self.size = max(1, size)
        self.timeout = timeout
        """Seconds one text may take (plus 2 ms per character) before its worker is killed."""
        self.startup_timeout = startup_timeout
        self.version = ""
        self.voices: tuple[VoiceInfo, ...] | None = None
        self.startup_seconds: list[float] = []
        self._events: queue.Queue[tuple[_Worker, tuple[int, int, int, bytes] | None]] = (
            queue.Queue()
        )
        self._workers: list[_Worker] = []
        self._serial = 0
        self._ids = 0
        self._spawned: dict[int, float] = {}
        self.scratch = tempfile.mkdtemp(prefix=f"voiceguide-{engine}-") if scratch else None
        """A folder for the workers' files (`scratch`), the pool's to remove: a worker is
        killed, not asked, so it cannot be trusted to clean up after itself."""
        self._finalizer = weakref.finalize(self, _stop_all, self._workers, self.scratch)

    def close(self) -> None:
        self._finalizer()

    def start(self) -> None:
        """Start the missing workers, without waiting for them."""
        if not self._finalizer.alive:
            raise SpeechError(f"the {self.engine} speech engine was closed")
        while len(self._workers) < self.size:
            self._serial += 1
            log = tempfile.TemporaryFile()  # noqa: SIM115 (the worker's stderr, kept)
            options: dict[str, Any] = {}
            if os.name == "posix":
                options["start_new_session"] = True
            else:
                options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            try:
                process = subprocess.Popen(
                    [sys.executable, "-I", HOST, self.engine],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env={**os.environ, **ONE_THREAD, **HEAP, **self._scratch_env()},
                    **options,
                )
            except OSError as exc:
                log.close()
                raise SpeechError(f"the {self.engine} speech engine cannot start: {exc}") from exc
            worker = _Worker(self._serial, process, log)
            self._workers.append(worker)
            self._spawned[worker.serial] = time.monotonic()
            threading.Thread(target=_read, args=(worker, self._events), daemon=True).start()

    def _scratch_env(self) -> dict[str, str]:
        return {SCRATCH: self.scratch} if self.scratch is not None else {}

    def wait_ready(self) -> None:
        """Block until a worker has said what it has (its voices and version)."""
        self.start()
        deadline = time.monotonic() + self.startup_timeout
        while self.voices is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SpeechError(
                    f"the {self.engine} speech engine did not start in {self.startup_timeout:g} s"
                )
            self._pump(min(left, 0.5), {})

    def run(
        self,
        texts: Sequence[str],
        request: Callable[[str], dict[str, Any]],
        done: Callable[[Task, Clip], Clip | SpeechError] = lambda task, clip: clip,
    ) -> Iterator[Clip]:
        """One clip per text, in order; `request(text)` says how to speak it, `done` judges it."""
        self.start()
        tasks = deque(Task(i, text, request(text)) for i, text in enumerate(texts))
        results: dict[int, Clip | SpeechError] = {}
        mine: list[Task] = []
        try:
            for index in range(len(texts)):
                while index not in results:
                    self._dispatch(tasks, mine)
                    again = self._pump(self._wait_time(), results, done)
                    tasks.extendleft(reversed(again))
                self._dispatch(tasks, mine)  # the workers go on while the caller works
                result = results.pop(index)
                if isinstance(result, SpeechError):
                    raise result
                yield result
        finally:
            for task in mine:
                task.abandoned = True

    def _dispatch(self, tasks: deque[Task], mine: list[Task]) -> None:
        self.start()
        for slot in range(self.QUEUE):
            for worker in self._workers:
                if not tasks:
                    return
                if len(worker.tasks) > slot:
                    continue
                task = tasks.popleft()
                self._ids += 1
                task.id = self._ids
                mine.append(task)
                if not worker.tasks:
                    worker.deadline = self._deadline(worker, task)
                worker.tasks.append(task)
                worker.send({**task.request, "id": task.id, "text": task.text})

    def _deadline(self, worker: _Worker, task: Task) -> float:
        startup = 0.0 if worker.ready else self.startup_timeout
        return time.monotonic() + self.timeout + len(task.text) / 500 + startup

    def _wait_time(self) -> float:
        busy = [w.deadline for w in self._workers if w.tasks]
        return max(0.0, min(busy) - time.monotonic()) if busy else 0.1

    def _pump(
        self,
        timeout: float,
        results: dict[int, Clip | SpeechError],
        done: Callable[[Task, Clip], Clip | SpeechError] = lambda task, clip: clip,
    ) -> list[Task]:
        """Handle what the workers sent within `timeout`; stop dead and late workers. Returns
        the tasks to send again (their worker died before starting them)."""
        again: list[Task] = []
        try:
            event: tuple[_Worker, tuple[int, int, int, bytes] | None] | None = self._events.get(
                timeout=max(0.0, timeout)
            )
        except queue.Empty:
            event = None
        while event is not None:
            worker, message = event
            if worker in self._workers:
                if message is None:
                    again += self._died(worker, results)
                else:
                    self._receive(worker, message, results, done)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                event = None
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.tasks and now > worker.deadline:
                task, *waiting = worker.tasks
                self._workers.remove(worker)
                worker.stop()
                if not task.abandoned:
                    results[task.index] = SpeechError(
                        f"the {self.engine} speech engine timed out speaking {_cue(task.text)}"
                    )
                again += [t for t in waiting if not t.abandoned]
        return again

    def _died(self, worker: _Worker, results: dict[int, Clip | SpeechError]) -> list[Task]:
        self._workers.remove(worker)
        try:
            worker.process.wait(timeout=1)
        except subprocess.TimeoutExpired:  # its output closed, yet it lives on: end it
            worker.process.kill()
            worker.process.wait()
        why = worker.why()
        worker.stop()
        if not worker.ready:
            raise SpeechError(f"the {self.engine} speech engine cannot start ({why})")
        if not worker.tasks:
            return []
        task, *waiting = worker.tasks
        if not task.abandoned:
            results[task.index] = SpeechError(
                f"the {self.engine} speech engine crashed ({why}) speaking {_cue(task.text)}"
            )
        return [t for t in waiting if not t.abandoned]

    def _receive(
        self,
        worker: _Worker,
        message: tuple[int, int, int, bytes],
        results: dict[int, Clip | SpeechError],
        done: Callable[[Task, Clip], Clip | SpeechError],
    ) -> None:
        kind, task_id, value, payload = message
        if kind == READY:
            worker.ready = True
            self.startup_seconds.append(time.monotonic() - self._spawned[worker.serial])
            info = json.loads(payload)
            self.version = str(info["version"])
            if self.voices is None:
                self.voices = tuple(
                    VoiceInfo(str(i), str(n), tuple(str(lang) for lang in langs))
                    for i, n, langs in info["voices"]
                )
            if worker.tasks:
                worker.deadline = self._deadline(worker, worker.tasks[0])
        elif kind == FAILED:
            reason = payload.decode("utf-8", "replace")
            raise SpeechError(f"the {self.engine} speech engine cannot start: {reason}")
        elif worker.tasks and task_id == worker.tasks[0].id:
            task = worker.tasks.popleft()
            worker.deadline = (
                self._deadline(worker, worker.tasks[0]) if worker.tasks else float("inf")
            )
            if task.abandoned:
                return
            if kind == CLIP:
                results[task.index] = done(task, Clip(payload, value))
            else:
                reason = payload.decode("utf-8", "replace")
                results[task.index] = SpeechError(
                    f"the {self.engine} speech engine failed speaking {_cue(task.text)}: {reason}"
                )


def judge(engine: str, rate: int) -> Callable[[Task, Clip], Clip | SpeechError]:
    """The sanity check of a finished clip against the engine's length model."""
    from .rates import estimate_ms, plausible

    def check(task: Task, clip: Clip) -> Clip | SpeechError:
        if plausible(engine, task.text, rate, clip.duration_ms):
            return clip
        return SpeechError(
            f"the {engine} speech engine produced a clip of {clip.duration_ms} ms for "
            f"{_cue(task.text)}, about {estimate_ms(engine, task.text, rate)} ms expected"
        )

    return check


class PooledEngine:
    """What the natural and system engines share: their pool's lifetime (start, close, `with`)."""

    _pool: Pool

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()

    def start(self) -> None:
        self._pool.start()
