"""espeak-ng's worker pool, seen from the parent: texts sent to small posix_spawn'ed processes
(`espeak_spawn`, `_espeak_worker.py`) in their binary protocol, and their replies read. A worker
that dies or is late costs the cue it was speaking (a SpeechError naming it); the texts it held
go to the others, and a new worker takes its place.
"""

from __future__ import annotations

import math
import select
import sys
import time
import weakref
from collections import deque

from ..clip import Clip
from ..errors import SpeechError
from . import _espeak_worker as protocol
from .base import VoiceInfo
from .base import cue as _cue
from .espeak_spawn import Task, Worker, shutdown, stop


class SpawnPool:
    """A few espeak-ng workers, each with up to QUEUE texts in hand: started, fed, heard and
    stopped. The engine (`espeak.EspeakEngine`) says what to speak and judges the clips.

    Workers start on first use (or `start()`, to overlap their start-up with other work) and
    live until `close()`.
    """

    QUEUE = 2
    """Tasks sent to a worker at a time: it starts the next as soon as it has sent a clip,
    while the caller is still busy with the last one (caching it, say)."""

    def __init__(
        self,
        binding: str,
        *,
        size: int,
        timeout: float,
        startup_timeout: float,
        deterministic: bool,
    ) -> None:
        self.deterministic = deterministic
        """Speak every clip from espeak-ng's state at start-up, in a fork of its worker: the
        same text, voice, rate and volume give the same samples, bit for bit, whatever was
        spoken before (as the espeak-ng command line does). Costs about 3 ms of CPU a clip, a
        quarter more for a cold export; off, a clip may differ by a few samples and up to 4%
        in length depending on what its worker spoke before."""
        self._binding = binding
        self.size = size
        self.timeout = timeout
        """Seconds one text may take (plus 1 ms per character) before its worker is killed."""
        self.startup_timeout = startup_timeout
        self.startup_seconds: list[float] = []
        """How long each worker took from its spawn to being ready to speak."""
        self._workers: list[Worker] = []
        self._serial = 0
        self._task_ids = 0
        self._voices: tuple[VoiceInfo, ...] | None = None
        self._finalizer = weakref.finalize(self, shutdown, self._workers)

    def close(self) -> None:
        """Stop the workers (in parallel)."""
        self._finalizer()

    def start(self) -> None:
        """Start the workers now, without waiting: the first can speak about 25 ms later."""
        if not self._finalizer.alive:
            raise SpeechError("the speech engine was closed")
        while len(self._workers) < self.size:
            self._serial += 1
            worker = Worker(self._serial)
            self._workers.append(worker)  # first, so a Ctrl-C from here on still stops it
            # One worker lists the voices (5-10 ms), the first started while they are unknown.
            worker.asks_voices = self._voices is None and not any(
                w.asks_voices for w in self._workers
            )
            try:
                worker.start(self._binding, fork=self.deterministic)
            except Exception as exc:
                self._workers.remove(worker)
                stop([worker])
                raise SpeechError(f"the speech engine cannot start: {exc}") from exc

    def voices(self) -> tuple[VoiceInfo, ...]:
        """espeak-ng's voices, as reported by the first worker to start."""
        self.start()
        deadline = time.monotonic() + self.startup_timeout
        while self._voices is None:
            if time.monotonic() > deadline:
                raise SpeechError(f"the speech engine did not start in {self.startup_timeout:g} s")
            self._pump(min(deadline - time.monotonic(), 0.5))
        return self._voices

    def _dispatch(
        self, pending: deque[Task], mine: list[Task], voice: str, rate: int, volume: int
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

    def _deadline(self, worker: Worker, task: Task) -> float:
        """When the worker must have spoken `task`, starting now (and starting up first)."""
        startup = 0.0 if worker.ready else self.startup_timeout
        return time.monotonic() + self.timeout + len(task.text) / 1000 + startup

    def _rate_for(self, task: Task, rate: int) -> int:
        """The rate sent to the engine; a seam for tests that simulate a lost setting."""
        return rate

    def _wait_time(self) -> float:
        busy = [w.deadline for w in self._workers if w.tasks]
        return max(0.0, min(busy) - time.monotonic()) if busy else 0.0

    def _pump(self, timeout: float) -> list[tuple[Task, Clip | SpeechError | None]]:
        """Wait up to `timeout` for workers; return finished tasks (None: to be sent again,
        as the worker that had it died before starting it), and stop dead or late workers."""
        done: list[tuple[Task, Clip | SpeechError | None]] = []
        by_fd = {w.from_worker: w for w in self._workers}
        poller = select.poll()
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        dead: list[Worker] = []
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
                stop([worker], grace=0.0)
                done.append(
                    (task, SpeechError(f"speech engine timed out speaking {_cue(task.text)}"))
                )
                done += [(other, None) for other in waiting]
        for worker in dead:
            self._workers.remove(worker)
            stop([worker], release=False)
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
    def _why(worker: Worker, code: int | None) -> str:
        """How a worker or a clip ended: "signal 6: *** stack smashing detected ***"."""
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        report = worker.crash_report()
        return f"{how}: {report}" if report else how

    def _receive(
        self,
        worker: Worker,
        message: tuple[int, int, int, bytes],
        done: list[tuple[Task, Clip | SpeechError | None]],
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
