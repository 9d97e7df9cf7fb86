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


def status_printer(out: TextIO | None = None) -> Callable[[Status], None]:
    """On a terminal, one line redrawn in place, never longer than the terminal is wide now
    (a line that wraps cannot be redrawn); elsewhere, one plain line per section."""
    out = out or sys.stdout
    tty = out.isatty()
    last: list[str] = [""]

    def show(status: Status) -> None:
        if tty:
            left = f" · {status.left_s} s left" if status.left_s is not None else ""
            step = status.step if len(status.step) <= 40 else status.step[:39] + "…"
            paused = "  [paused: space resumes]" if status.paused else ""
            line = fit(  # the last column left free: some terminals wrap on reaching it
                f"{_clock(status.elapsed_ms)}/{_clock(status.total_ms, status.estimated)}"
                f"  {status.section}"
                f" · {step}{left}{paused}",
                shutil.get_terminal_size().columns - 1,
            )
            if line != last[0]:
                out.write("\r\x1b[K" + line)
                out.flush()
                last[0] = line
        elif status.section and status.section != last[0]:
            out.write(f"{_clock(status.elapsed_ms)} {status.section}\n")
            out.flush()
            last[0] = status.section

    return show


def end_line(out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if out.isatty():
        out.write("\r\x1b[K")
        out.flush()
