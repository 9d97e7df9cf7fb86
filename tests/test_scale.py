"""Thousands of the user's own techniques: a technique by id reads its one file, `list` reads
only the files that changed since the last run (an index keyed on each file's mtime and size),
and a damaged or unwritable index changes nothing but the time taken. Through the real CLI,
counting the technique files actually parsed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voiceguide.api import index
from voiceguide.catalog import LIBRARY, user_folder
from voiceguide.language import files as language_files

COUNT = 1000


@pytest.fixture
def many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """COUNT technique files of the user's (copies of the built-ins, retitled), a cache folder
    of this test's own; returns their ids."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = user_folder()
    folder.mkdir(parents=True)
    sources = [p.read_text(encoding="utf-8") for p in sorted((LIBRARY / "techniques").glob("*"))]
    ids = [f"mine-{n:05d}" for n in range(COUNT)]
    for n, tid in enumerate(ids):
        text = sources[n % len(sources)]
        title = text.split("\n", 1)[0]
        assert title.startswith("title = ")
        (folder / f"{tid}.toml").write_text(
            text.replace(title, f'title = "Mine {n}"', 1), encoding="utf-8"
        )
    return ids


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every user technique file parsed from now on, in order."""
    seen: list[Path] = []
    real = language_files._read_toml

    def counting(path: Path, name: str) -> object:
        if path.parent == user_folder():
            seen.append(path)
        return real(path, name)

    monkeypatch.setattr(language_files, "_read_toml", counting)
    return seen


def test_a_technique_by_id_reads_its_one_file(run, many, parsed, routine_file) -> None:
    result = run("show", "mine-00123", "--estimate")
    assert result.status == 0, result.err
    assert result.out.startswith("Mine 123  (")
    assert parsed == [user_folder() / "mine-00123.toml"]
    parsed.clear()
    routine = routine_file('title = "R"\n[[technique]]\nuse = "mine-00007"\n')
    assert run("check", str(routine)).status == 0
    assert parsed == [user_folder() / "mine-00007.toml"]
    parsed.clear()
    (user_folder() / "mine-00009.toml").write_text("broken = [", encoding="utf-8")
    assert run("show", "mine-00008", "--estimate").status == 0, "another's damage is not its own"
    assert run("show", "mine-00008", "--source").status == 0
    assert run("check", "mine-00008").status == 0


def test_list_reads_only_the_files_that_changed(run, many, parsed) -> None:
    first = run("list")
    assert first.status == 0, first.err
    assert len(parsed) == COUNT and index.path().is_file()
    parsed.clear()
    again = run("list")
    assert again.out == first.out and parsed == []
    changed = user_folder() / "mine-00042.toml"
    changed.write_text(
        changed.read_text(encoding="utf-8").replace('"Mine 42"', '"Changed"'), encoding="utf-8"
    )
    os.utime(changed, ns=(1, 1))  # its time set back: the size still tells
    (user_folder() / "mine-00043.toml").unlink()
    third = run("list")
    assert parsed == [changed]
    lines = third.out.splitlines()
    assert any(line.startswith("* mine-00042 ") and "Changed" in line for line in lines)
    assert not any(line.startswith("* mine-00043 ") for line in lines)
    assert len(lines) == len(first.out.splitlines()) - 1
    parsed.clear()
    assert run("list", "--pace", "2").out != first.out and len(parsed) == COUNT - 1, (
        "lengths at another pace are reckoned"
    )


@pytest.mark.parametrize(
    "damage", ["garbage", "wrong types", "a folder", "a fifo", "deep nesting", "unwritable"]
)
def test_a_damaged_index_changes_nothing_but_the_time(
    run, many, parsed, damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = run("list").out
    target = index.path()
    if damage == "garbage":
        target.write_bytes(b"\x00{not json")
    elif damage == "wrong types":
        data = json.loads(target.read_text())
        for record in data["files"].values():
            record["lengths"] = {key: "soon" for key in record["lengths"]}
            record["title"] = 7
        target.write_text(json.dumps(data))
    elif damage == "a folder":
        target.unlink()
        target.mkdir()
    elif damage == "a fifo":
        target.unlink()
        os.mkfifo(target)
    elif damage == "deep nesting":
        target.write_text("[" * 100_000 + "]" * 100_000)
    else:
        (tmp_path / "not-a-folder").write_text("a file where the cache folder should be")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    for _ in range(2):
        result = run("list")
        assert result.status == 0 and result.err == "", result.err
        assert result.out == expected


def test_a_broken_file_is_still_reported_when_the_rest_are_known(run, many) -> None:
    assert run("list").status == 0
    broken = user_folder() / "mine-00100.toml"
    broken.write_text('title = "x"\nsteps = [{ hold = -1 }]\n', encoding="utf-8")
    result = run("list")
    assert result.status == 2
    assert result.err == f"error: {broken}: step 1, hold: must be seconds in (0, 600], got -1\n"
