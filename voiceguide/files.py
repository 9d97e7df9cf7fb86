"""Writing the user's files: atomic, and the file replaced keeps what it was.

A file is written under a temporary name beside its target (through symlinks, to the file they
name) and renamed onto it only when complete. The new file keeps the mode, owner and group of
the one it replaces; a new file gets the mode the umask gives. A temporary name carries the pid
of the process writing it, so one left by a killed process is known, and removed by the next
write into that folder once its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

_PART = re.compile(r"\.(.+)\.(\d{1,10})\.([0-9a-f]{8})\.part", re.DOTALL)
"""A temporary file of ours: `.NAME.PID.TOKEN.part` (NAME cut short to fit)."""
STALE_UNCHECKED_S = 3600
"""Where a pid cannot be checked (Windows), a temporary file this old is taken as left over."""


def target(path: Path) -> Path:
    """Where a write to `path` lands: a symlink is followed to the file it names."""
    return Path(os.path.realpath(path))


def temp_path(path: Path) -> Path:
    """`.NAME.PID.TOKEN.part` beside `path`, NAME shortened so the whole stays within the file
    system's longest name (NAME_MAX, 255 bytes on most)."""
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf on Windows
        longest = 255
    name = path.name
    while len(os.fsencode(name)) > longest - 1 - len(tail):
        name = name[:-1]
    return path.with_name(f".{name}{tail}")


def read_only(path: Path) -> bool:
    """An existing file we may not write, or that nobody may (a 444 file, which root could
    write anyway): replacing it would undo its owner's choice."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`'s target, renamed onto it only if the block completes.

    Its name is chosen before it is created, so an interrupt even just after creating it is
    inside the `try` (mkstemp can be interrupted between creating its file and returning).
    """
    final = target(path)
    remove_stale(final.parent)
    temp = temp_path(final)
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        fresh = stat.S_IMODE(os.stat(temp).st_mode)  # 0o666 less the umask: a new file's mode
        os.chmod(temp, fresh & 0o700)  # no one else reads it while it is being written
        yield temp
        _take_place(temp, final, fresh)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def _take_place(temp: Path, final: Path, fresh: int) -> None:
    """Give `temp` the mode (and owner and group, where allowed) of the file it will replace."""
    try:
        old = os.stat(final)
    except FileNotFoundError:
        os.chmod(temp, fresh)
        return
    if hasattr(os, "chown"):
        with contextlib.suppress(OSError):  # only root may give a file away; a group we are in
            try:
                os.chown(temp, old.st_uid, old.st_gid)
            except PermissionError:
                os.chown(temp, -1, old.st_gid)
    os.chmod(temp, stat.S_IMODE(old.st_mode))  # after chown, which may clear set-id bits


def remove_stale(folder: Path) -> None:
    """Remove our temporary files in `folder` whose process is gone (it was killed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        found = _PART.fullmatch(entry.name)
        if found is None or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            if not _writer_alive(int(found[2]), entry):
                os.unlink(entry.path)


def _writer_alive(pid: int, entry: os.DirEntry[str]) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would end the process there; go by age instead
        return time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_UNCHECKED_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process, or no such pid at all
        return True
    return True
