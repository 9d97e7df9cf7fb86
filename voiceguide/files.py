"""Writing the user's files, the one way every output is written (exports, transcripts,
charts, sounds, the config): checked first, atomic, and the file replaced keeps what it was.

`check_output` refuses, before any work, a place that cannot or should not be written: a
missing folder, a folder, a device, pipe or socket, a read-only file (unless forced), and
`check_not_input` a file the program reads. `replacing` writes under a temporary name beside
the target (through symlinks, to the file they name) and renames it onto it only when complete.
The new file keeps the mode, owner and group of the one it replaces; a new file gets the mode
the umask gives. A temporary name carries the pid of the process writing it, so one left by a
killed process is known, and removed by the next write into that folder once its process is
gone; no other file is ever removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UsageError

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


class ReadOnlyError(UsageError):
    """The target is a read-only file, and replacing it was not forced."""


def check_output(path: Path, *, force: bool = False) -> None:
    """Refuse, before any work, a place we cannot or should not write. `force` replaces a
    read-only file (it stays read-only)."""
    final = target(path)  # a symlink is written through, to the file it names
    if not final.parent.is_dir():
        raise UsageError(f"{path}: folder {str(final.parent)!r} does not exist")
    try:
        mode = final.stat().st_mode
    except OSError:
        return  # a new file
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path}: is a folder")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path}: is not a regular file (a device, pipe or socket)")
    if not force and read_only(final):
        raise ReadOnlyError(
            f"{path}: the file is read-only; to replace it anyway (it stays read-only), use --force"
        )


def check_not_input(
    outputs: Iterable[Path | None], inputs: Iterable[Path], what: str = "export"
) -> None:
    """Refuse to write over a file the program reads (the routine, its sounds, the config):
    `what` is the output's name in the message ("export", "chart")."""
    sources = list(inputs)
    for output in outputs:
        if output is None:
            continue
        for source in sources:
            try:
                same = os.path.samefile(output, source)  # through links, hard and symbolic
            except OSError:
                continue  # one of them does not exist: not the same file
            if same:
                raise UsageError(
                    f"{output}: is one of the {what}'s own inputs ({source}); "
                    f"write the {what} to another file"
                )


@contextlib.contextmanager
def replacing(path: Path, *, force: bool = False) -> Iterator[Path]:
    """`check_output`, then `atomic`: the one way a user's file is written."""
    check_output(path, force=force)
    with atomic(path) as temp:
        yield temp


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
        with contextlib.suppress(OSError):  # a cleanup never hides what went wrong
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
