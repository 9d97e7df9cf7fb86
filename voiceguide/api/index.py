"""The user's techniques as `list` shows them, kept between runs: each file's title, equipment
and lengths, keyed on the file's mtime and size, the code's and the settings the lengths were
reckoned with. With 10,000 technique files `list` reads and compiles only those that changed.

It lives in the cache folder (`techniques.json`). A missing, damaged or unwritable index is
rebuilt or done without, never an error: it is only ever a shortcut to what reading the files
gives. A technique with its own sound files is not kept (its length is the sounds').
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..language import Chime, Technique

VERSION = 1
MAX_BYTES = 64 << 20
"""A larger index is not read (10,000 techniques take 1.7 MB)."""


@dataclass(frozen=True, slots=True)
class Known:
    """What `list` shows of one technique file."""

    title: str
    equipment: tuple[str, ...]
    length: int


def path() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("voiceguide")) / "techniques.json"


def code_stamp() -> str:
    """The installed code, by its files' times: lengths reckoned by other code are not used."""
    package = Path(__file__).resolve().parent.parent
    newest = 0
    for folder, _, names in os.walk(package):
        for name in names:
            if name.endswith((".py", ".toml")):
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
    return str(newest)


def _stamp(file: Path) -> list[int] | None:
    try:
        info = os.stat(file)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size]


def _load(code: str) -> dict[str, Any]:
    """The index's records by id, or none if it is missing, damaged or from other code."""
    try:  # opened without waiting (a FIFO would), read only if a regular file of sane size
        with os.fdopen(os.open(path(), os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                return {}
            data = json.loads(file.read(MAX_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("code") != code:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _known(record: object, stamp: list[int] | None, key: str) -> Known | None:
    """The record's entry, if it is whole and for this very file and these settings."""
    if stamp is None or not isinstance(record, dict) or record.get("stamp") != stamp:
        return None
    lengths, title, equipment = record.get("lengths"), record.get("title"), record.get("equipment")
    length = lengths.get(key) if isinstance(lengths, dict) else None
    if (
        not isinstance(title, str)
        or not isinstance(equipment, list)
        or not all(isinstance(e, str) for e in equipment)
        or not isinstance(length, int)
        or isinstance(length, bool)
        or length < 0
    ):
        return None
    return Known(title, tuple(equipment), length)


def _save(code: str, files: dict[str, Any]) -> None:
    from ..files import atomic

    target = path()
    with contextlib.suppress(OSError, ValueError):
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic(target) as temp:
            temp.write_text(json.dumps({"version": VERSION, "code": code, "files": files}))


def user_entries(key: str, length_of: Callable[[Technique], int]) -> dict[str, Known]:
    """Every user technique by id, as `list` shows it at the settings `key` names: from the
    index where the file is unchanged, else read (every problem raised, as `catalog.
    user_techniques` does) with `length_of` and kept for the next run."""
    from ..catalog import user_paths, user_techniques

    code = code_stamp()
    records = _load(code)
    paths = user_paths()
    stamps = {tid: _stamp(file) for tid, file in paths.items()}
    known = {
        tid: entry
        for tid in paths
        if (entry := _known(records.get(tid), stamps[tid], key)) is not None
    }
    out: dict[str, Known] = {}
    kept: dict[str, Any] = {}
    changed = len(records) != len(known)
    for tid, technique in user_techniques(known).items():
        if technique is None:
            out[tid] = known[tid]
            kept[tid] = records[tid]
            continue
        out[tid] = Known(technique.title, technique.equipment, length_of(technique))
        changed = True
        if stamps[tid] is None or any(
            isinstance(s, Chime) and Path(s.sound).is_absolute() for s in technique.steps
        ):
            continue  # no stamp to know it by, or its length is its own sound files'
        record = records.get(tid)
        lengths = record.get("lengths") if isinstance(record, dict) else None
        same = isinstance(record, dict) and record.get("stamp") == stamps[tid]
        kept[tid] = {
            "stamp": stamps[tid],
            "title": technique.title,
            "equipment": list(technique.equipment),
            "lengths": {
                **(lengths if same and isinstance(lengths, dict) else {}),
                key: out[tid].length,
            },
        }
    if changed:
        _save(code, kept)
    return out
