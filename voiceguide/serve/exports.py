"""The files the server hands out, made on demand with the session's options.

One export at a time: requests put jobs on a queue that one worker thread takes in turn (two
routines made at once would only share the same two cores, and double the memory). Each job's
files are kept in the cache folder under a key of everything they depend on (the routine as
read, the settings it is spoken with, the config's sound settings, voiceguide's version), so an
unchanged routine is never made twice and a changed one is made anew. Names in the folder are
keys only, never from a URL; a file there that is not a regular file (a symlink put there) is
never read, and is removed before a write, which would otherwise go through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import routines

if TYPE_CHECKING:
    from ..api import Options
    from ..timeline import Timeline

_log = logging.getLogger("voiceguide.serve")

JOBS = {"audio": ("m4a", "vtt", "png", "json"), "mp3": ("mp3",)}
"""What each job writes, the last one written last: it says the job is done."""
JOB_OF = {suffix: job for job, suffixes in JOBS.items() for suffix in suffixes}


@dataclass(frozen=True, slots=True)
class Status:
    """Where a job stands."""

    state: str
    """"missing", "queued", "making", "ready" or "failed"."""
    progress: float = 0.0
    """0 to 1."""
    error: str | None = None


READY = Status("ready", 1.0)
_MAKING = threading.Event()
"""Set while a worker is making an export."""


def making() -> bool:
    """Whether an export is being made now (the process then ends without teardown)."""
    return _MAKING.is_set()


def folder() -> Path:
    """Where served files are kept: `serve/` in the user's cache folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide")) / "serve"


def regular(path: Path) -> bool:
    """A regular file itself, not through a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


class Exports:
    """The served files of every routine, and the one worker that makes them."""

    def __init__(self, options: Options, where: Path | None = None) -> None:
        self.options = options
        self.folder = where or folder()
        self._lock = threading.Lock()
        self._jobs: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self._status: dict[tuple[str, str], Status] = {}
        self._done: dict[tuple[str, str], threading.Event] = {}
        self._worker: threading.Thread | None = None

    def key(self, name: str) -> str:
        """The key of `name`'s files: its name's hash, then everything its sound depends on."""
        from .. import __version__, api
        from ..config import sound_config

        routine = routines.load(name)
        settings = api.settings_for(routine, self.options)
        depends = repr((__version__, routine, settings, sound_config(), self.options))
        return f"{_digest(name)[:8]}-{_digest(depends)[:16]}"

    def path(self, key: str, suffix: str) -> Path:
        return self.folder / f"{key}.{suffix}"

    def status(self, name: str, key: str, job: str) -> Status:
        if self._complete(key, job):
            return READY
        with self._lock:
            return self._status.get((key, job), Status("missing"))

    def request(self, name: str, key: str, job: str) -> threading.Event:
        """Queue the job unless its files are there or it is queued already; an event set
        when it is done."""
        with self._lock:
            done = self._done.get((key, job))
            if done is not None and not done.is_set():
                return done  # queued, or being made
            done = self._done[(key, job)] = threading.Event()  # a failed one is tried again
            if self._complete(key, job):
                done.set()
                return done
            self._status[(key, job)] = Status("queued")
            self._jobs.put((name, key, job))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="exports", daemon=True)
                self._worker.start()
            return done

    def wait(self, name: str, key: str, job: str) -> Status:
        """Make the job's files if they are not there, and wait for them."""
        self.request(name, key, job).wait()
        return self.status(name, key, job)

    def made(self, key: str) -> dict[str, Any]:
        """What an audio job found out: the length, the chapters and the cues (see `_summary`)."""
        value: dict[str, Any] = json.loads(self.path(key, "json").read_text(encoding="utf-8"))
        return value

    def _complete(self, key: str, job: str) -> bool:
        """Every file of the job there, each a regular file (else it is made again)."""
        return all(regular(self.path(key, suffix)) for suffix in JOBS[job])

    def _work(self) -> None:
        while True:
            name, key, job = self._jobs.get()
            _MAKING.set()
            try:
                self._make(name, key, job)
                status = READY
            except Exception as exc:  # the page says what went wrong; the server goes on
                from ..errors import VoiceguideError

                if not isinstance(exc, VoiceguideError):
                    _log.warning(f"serve: {name}: {type(exc).__name__}: {exc}")
                status = Status("failed", error=str(exc).splitlines()[0] if str(exc) else "")
            finally:
                _MAKING.clear()
            with self._lock:
                self._status[(key, job)] = status
                self._done[(key, job)].set()

    def _progress(self, key: str, job: str, stage: str, done: int, total: int) -> None:
        share = done / total if total else 1.0
        value = share / 2 if stage == "speech" else 0.5 + share / 2
        with self._lock:
            self._status[(key, job)] = Status("making", round(value, 3))

    def _make(self, name: str, key: str, job: str) -> None:
        from .. import api, chart

        self.folder.mkdir(parents=True, exist_ok=True)
        for suffix in JOBS[job]:
            path = self.path(key, suffix)
            if path.is_symlink():  # a write would go through it, to wherever it points
                path.unlink()
        with self._lock:
            self._status[(key, job)] = Status("making")
        routine = routines.load(name)

        def progress(stage: str, done: int, total: int) -> None:
            self._progress(key, job, stage, done, total)

        if job == "mp3":
            api.export(routine, self.path(key, "mp3"), self.options, progress=progress)
        else:
            timeline = api.export(
                routine,
                self.path(key, "m4a"),
                self.options,
                transcript=self.path(key, "vtt"),
                progress=progress,
            )
            chart.write(timeline, self.path(key, "png"))
            from ..files import atomic

            with atomic(self.path(key, "json")) as temp:
                temp.write_text(json.dumps(_summary(timeline)), encoding="utf-8")
        self._forget_others(key)

    def _forget_others(self, key: str) -> None:
        """Remove the files of the same routine made with other settings or an older file."""
        prefix, _ = key.split("-")
        for path in self.folder.glob(f"{prefix}-*"):
            if not path.name.startswith(f"{key}."):
                with contextlib.suppress(OSError):
                    path.unlink()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _summary(timeline: Timeline) -> dict[str, Any]:
    """The length, each section (a chapter) and each spoken cue, in milliseconds."""
    return {
        "title": timeline.title,
        "duration": timeline.duration,
        "chapters": [{"start": s.start, "end": s.end, "title": s.title} for s in timeline.sections],
        "cues": [
            {"start": e.start, "end": e.end, "text": " ".join(e.text.split())}
            for e in timeline.events
            if e.kind == "speech" and e.text
        ],
    }
