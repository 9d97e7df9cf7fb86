"""Temporary names that say which process made them (`.tmp-PID-RANDOM.part`, and the clip
folders `.run-PID-RANDOM` of store.py), so what a killed process left behind is known by its
name and removed by the next process that uses the cache.
"""

from __future__ import annotations

import os
import secrets

RUN_PREFIX = ".run-"
"""A folder of one process's clips (see store.py), named like a temporary file."""


def temp_name(prefix: str, suffix: str = "") -> str:
    """A short name that says which process made it: `.tmp-PID-RANDOM.part`."""
    return f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _writer_gone(name: str, prefix: str) -> bool | None:
    """Whether the process named in a temporary name has ended; None if it names none."""
    pid = name.removeprefix(prefix).split("-", 1)[0]
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False
