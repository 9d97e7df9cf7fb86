"""The CLI's standard streams: text they cannot encode is replaced, and a failed write is one
error the CLI can report, never a traceback.

Left alone, Python raises UnicodeEncodeError for text the stream's encoding lacks
(PYTHONIOENCODING=latin-1), OSError for a full disk or a reader that has gone, and sets
`sys.stdout` to None when the descriptor was closed; each would end in a traceback, or in
silence.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO, cast

from .errors import ExitStatus, VoiceguideError


class StreamError(VoiceguideError):
    """Standard output or error cannot be written: closed, full, or its reader gone."""

    def __init__(self, name: str, cause: OSError | None) -> None:
        self.name = name
        self.reader_gone = isinstance(cause, BrokenPipeError)
        reason = "it is closed" if cause is None else cause.strerror or str(cause)
        super().__init__(f"cannot write to {name} ({reason})")
        self.exit_code = ExitStatus.BROKEN_PIPE if self.reader_gone else ExitStatus.ERROR


class Guarded(io.TextIOBase):
    """A standard stream that replaces what its encoding cannot show. A failure to write (None:
    the stream was closed before we started) raises StreamError if the stream is `strict`
    (standard output: what the user asked for); otherwise the text is dropped (standard error:
    messages, which the CLI's last error then takes to standard output)."""

    def __init__(self, stream: TextIO | None, name: str, *, strict: bool) -> None:
        self.stream = stream
        self.name = name
        self.strict = strict
        self.failed = False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self.stream is None:
            raise io.UnsupportedOperation("closed")
        return self.stream.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a text stream does: click probes with bytes
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        if self.stream is None:
            return self._fail(None, len(text))
        try:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:
                shown = text.encode(self.encoding, "replace").decode(self.encoding)
                return self.stream.write(shown)
        except OSError as exc:
            return self._fail(exc, len(text))

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except OSError as exc:
            self._fail(exc, 0)

    def close(self) -> None:
        """Never closed from here: the stream belongs to the interpreter."""

    def _fail(self, cause: OSError | None, size: int) -> int:
        self.failed = True
        if self.strict:
            raise StreamError(self.name, cause) from None
        return size


@contextlib.contextmanager
def guarded() -> Iterator[tuple[Guarded, Guarded]]:
    """sys.stdout and sys.stderr guarded while the block runs (and the originals back after).

    A closed descriptor 0, 1 or 2 is opened on the null device first, so no file we open
    takes its number (and with it, output meant for the terminal). A stream that failed is
    pointed at the null device on the way out, so the interpreter's last flush cannot fail.
    """
    for fd in (0, 1, 2):
        _fill(fd)
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (the interpreter's now)
    saved = sys.stdout, sys.stderr
    out = Guarded(saved[0], "standard output", strict=True)
    err = Guarded(saved[1], "standard error", strict=False)
    sys.stdout, sys.stderr = cast(TextIO, out), cast(TextIO, err)
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved
        for stream in (out, err):
            if stream.failed:
                _silence(stream.stream)


def _fill(fd: int) -> None:
    try:
        os.fstat(fd)
    except OSError:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)


def _silence(stream: TextIO | None) -> None:
    """Send what is still buffered for a failed stream to the null device."""
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError):  # not a real descriptor (a test's capture)
        return
    if fd < 0:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def json_for(text: str, encoding: str) -> str:
    """JSON text the stream's `encoding` carries exactly: each character it lacks written as
    JSON's own escape (\\uXXXX, a surrogate pair beyond U+FFFF), where the stream would print
    "?". Outside strings JSON is ASCII, so every such character is inside one."""
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass

    def carried(ch: str) -> bool:
        try:
            ch.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    def escaped(ch: str) -> str:
        code = ord(ch)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return "".join(ch if ch.isascii() or carried(ch) else escaped(ch) for ch in text)
