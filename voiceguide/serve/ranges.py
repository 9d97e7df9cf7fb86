"""The Range header (RFC 9110, section 14): the one byte range a phone's player asks for when
it starts or seeks. Several ranges at once are answered with the whole file, as the RFC
allows; a range past the end is unsatisfiable (416)."""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(Exception):
    """No byte of the range is in the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, both included, of the range `header` asks for in a file of `size`
    bytes; None for the whole file (no header, several ranges, or one we do not read)."""
    if header is None:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found[1], found[2]
    if not first:  # the last N bytes
        if not last:
            return None
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - count), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored, as the RFC says
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last) if last else size - 1, size - 1)
