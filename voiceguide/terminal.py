"""Single keys in and one status line out, on a terminal; quiet and plain everywhere else.

The terminal is always restored: the raw-mode block is left through `finally` whether the
routine ends, the user quits, Ctrl-C arrives, or anything fails.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from typing import TextIO

from .player import Status

ReadKey = Callable[[float], "str | None"]


@contextlib.contextmanager
def keys(stream: TextIO | None = None) -> Iterator[ReadKey]:
    """A function that waits up to `timeout` seconds for one key press."""
    stream = stream or sys.stdin
    if not stream.isatty():

        def wait(timeout: float) -> str | None:
            time.sleep(timeout)
            return None

        yield wait
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts

        def read(timeout: float) -> str | None:
            ready, _, _ = select.select([fd], [], [], timeout)
            return os.read(fd, 1).decode(errors="ignore") if ready else None

        yield read
    finally:
        with contextlib.suppress(termios.error):  # a terminal that was closed (SIGHUP)
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _clock(ms: int, estimated: bool = False) -> str:
    from .timeline import length_text

    return length_text(ms, estimated=estimated)


def _cells(ch: str) -> int:
    """Terminal columns a character takes: 2 for East Asian wide, 0 for combining marks."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def width(text: str) -> int:
    """Terminal columns `text` takes."""
    return sum(map(_cells, text))


def fit(line: str, columns: int) -> str:
    """`line` cut to at most `columns` terminal columns, with "…" where it was cut."""
    if width(line) <= columns:
        return line
    kept, used = [], 0
    for ch in line:
        used += _cells(ch)
        if used > columns - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…" if columns > 0 else ""


class StatusPrinter:
    """On a terminal, one line redrawn in place, never longer than the terminal is wide now
    (a line that wraps cannot be redrawn); elsewhere, one plain line per section. Lines of
    their own (`say`) go above it."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.last = ""

    def __call__(self, status: Status) -> None:
        out = self.out
        if self.tty:
            left = f" · {status.left_s} s left" if status.left_s is not None else ""
            step = status.step if len(status.step) <= 40 else status.step[:39] + "…"
            paused = "  [paused: space resumes]" if status.paused else ""
            line = fit(  # the last column left free: some terminals wrap on reaching it
                f"{_clock(status.elapsed_ms)}/{_clock(status.total_ms, status.estimated)}"
                f"  {status.section}"
                f" · {step}{left}{paused}",
                shutil.get_terminal_size().columns - 1,
            )
            if line != self.last:
                out.write("\r\x1b[K" + line)
                out.flush()
                self.last = line
        elif status.section and status.section != self.last:
            out.write(f"{_clock(status.elapsed_ms)} {status.section}\n")
            out.flush()
            self.last = status.section

    def say(self, line: str) -> None:
        """A line of its own ("heard: pause"), above the status line, which is redrawn."""
        if self.tty:
            self.out.write("\r\x1b[K")
            self.last = ""
        self.out.write(line + "\n")
        self.out.flush()


def end_line(out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if out.isatty():
        out.write("\r\x1b[K")
        out.flush()
