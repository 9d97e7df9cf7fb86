"""Warnings said once a run, however often what they warn about is met (`list` reads every
routine, the history is read more than once, a routine is compiled twice by `play`).

A run is one command of the CLI, which calls `new_run` as it starts, so two commands in one
process (the tests, a program driving the CLI) each say theirs; for the library, a process.
"""

from __future__ import annotations

import logging
import threading

_said: set[tuple[str, str]] = set()
_lock = threading.Lock()


def warn_once(logger: str, message: str) -> None:
    """`message` as a warning of `logger`, unless this run has said it already."""
    with _lock:
        if (logger, message) in _said:
            return
        _said.add((logger, message))
    logging.getLogger(logger).warning(message)


def new_run() -> None:
    """A new run begins: every warning may be said again."""
    with _lock:
        _said.clear()
