"""One espeak-ng worker process, from the parent's side: posix_spawn'ed with Ctrl-C, SIGTERM
and SIGHUP held back (so none is left behind), its pipes, its stderr in an anonymous file
(quoted when it dies), killed and reaped; and many stopped at once, in parallel.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass

from . import _espeak_worker as protocol


@dataclass(slots=True)
class Task:
    """A text to speak, as the pool sends it and a worker holds it."""

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


class Worker:
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
        self.tasks: deque[Task] = deque()
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


def stop(workers: list[Worker], grace: float = 1.0, release: bool = True) -> None:
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


def shutdown(workers: list[Worker]) -> None:
    stop(list(workers))
    workers.clear()
