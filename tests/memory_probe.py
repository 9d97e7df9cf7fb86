"""The peak resident memory of a running process and its descendants, from /proc.

Not `wait4`'s `ru_maxrss`: a child started from the test process (fork or vfork, then exec)
inherits the test process's own peak into it, so after a long test session every child
"peaked" at several hundred MB. VmHWM is the peak of each process's own memory since its exec.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peaks_mb(pid: int) -> dict[int, float]:
    """Each live process of the tree under `pid` (itself included): its peak so far, in MB."""
    tree, todo, found = _children(), [pid], {}
    while todo:
        current = todo.pop()
        found[current] = _hwm_kb(current) / 1024
        todo += tree.get(current, [])
    return found


def watch(proc: subprocess.Popen[bytes], seconds: float | None = None) -> float:
    """The largest peak of any process in `proc`'s tree, sampled every 50 ms until it exits (or
    for `seconds`)."""
    peak: dict[int, float] = {}
    end = time.monotonic() + seconds if seconds is not None else float("inf")
    while proc.poll() is None and time.monotonic() < end:
        for pid, mb in peaks_mb(proc.pid).items():
            peak[pid] = max(peak.get(pid, 0.0), mb)
        time.sleep(0.05)
    return max(peak.values(), default=0.0)
