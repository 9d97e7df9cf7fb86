"""The user's config file: answering the safety questions writes `screened = true` and the
day (`screened_on`) into it,
through the real CLI, and keeps everything else as the user wrote it."""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from voiceguide import cli, screening
from voiceguide.config import config_path
from voiceguide.screening import QUESTIONS

from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")

RICH = """\
# my voiceguide settings, kept by hand
rate = 130        # words per minute
"my notes" = "keep"   # a quoted key
x = inf
y = -inf
z = nan
when = 1979-05-27T07:32:00Z
levels = [1, 2.5, "three"]
inline = { a = 1, "b c" = "d" }
dotted.key = true

[extra]  # a table we know nothing about
a = 1 # kept
'quoted literal' = 'C:\\path'

[[more]]
name = "one"

[[more]]
name = "two"
"""


DAY = datetime.date(2026, 3, 1)
CLEAN = {"screened": True, "screened_on": DAY}
CLEAN_LINES = ["screened = true", "screened_on = 2026-03-01"]


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screening, "today", lambda: DAY)


@pytest.fixture
def answered_no(monkeypatch: pytest.MonkeyPatch, device: list[str]) -> list[str]:
    """`play` on a terminal, with every safety question answered no on standard input, and a
    sound device that plays nothing (what ran)."""
    monkeypatch.setattr(cli.session, "_interactive", lambda: True)
    answers = "n\n" * len(QUESTIONS) + "\n"  # and Enter to begin
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))
    return device


def canonical(config: dict[str, object]) -> str:
    """Equal for equal configs, NaN included (NaN != NaN)."""
    return json.dumps(config, sort_keys=True, default=repr)


def kept_in_order(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`, asserting every line of `before` is still there,
    unchanged and in order."""
    added, rest = [], iter(before.splitlines())
    want = next(rest, None)
    for line in after.splitlines():
        if line == want:
            want = next(rest, None)
        else:
            added.append(line)
    assert want is None, f"line lost or changed: {want!r}"
    return added


def screen(run, original: str | bytes | None) -> tuple[str, dict[str, object]]:
    """Answer the questions through `play` with this config file; its text and data after."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(original, str):
        path.write_bytes(original.encode("utf-8"))
    elif isinstance(original, bytes):
        path.write_bytes(original)
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert "Traceback" not in result.err
    text = path.read_bytes().decode("utf-8")
    return text, tomllib.loads(text.removeprefix("\ufeff"))


def test_answers_keep_comments_order_quoting_and_unknown_tables(
    run, answered_no, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RICH, encoding="utf-8")
    path.chmod(0o600)
    before = tomllib.loads(RICH)
    text, after = screen(run, None)
    assert answered_no == [SHORT, "run"]
    assert canonical(after) == canonical({**before, **CLEAN})
    assert kept_in_order(RICH, text) == CLEAN_LINES
    assert "# my voiceguide settings, kept by hand" in text and "# kept" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"], "no leftovers"
    # the config still works for every command, and is not asked again
    assert run("show", SHORT, "--estimate").status == 0
    assert run("list").status == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # Enter to begin, and no questions
    assert run("play", SHORT).status == 0 and answered_no == [SHORT, "run"] * 2


@pytest.mark.parametrize(
    "original",
    [
        pytest.param(None, id="no-file"),
        pytest.param("", id="empty"),
        pytest.param("# only a comment", id="comment-no-newline"),
        pytest.param("rate = 140", id="no-final-newline"),
        pytest.param("rate = 140\r\nvoice = 'en'\r\n[t]\r\nk = 1\r\n", id="crlf"),
        pytest.param("\ufeffrate = 140\n", id="bom"),
        pytest.param("screened = false  # not yet\nrate = 140\n", id="screened-false"),
        pytest.param('[[technique-notes]]\nid = "a"\n', id="array-of-tables-only"),
    ],
)
def test_answers_update_any_config_and_leave_valid_toml(
    run, answered_no, original: str | None
) -> None:
    before = tomllib.loads((original or "").removeprefix("\ufeff"))
    text, after = screen(run, original)
    assert canonical(after) == canonical({**before, **CLEAN})
    if original:
        kept = original.replace("screened = false", "screened = true")
        added = kept_in_order(kept.replace("\r\n", "\n"), text.replace("\r\n", "\n"))
        assert [line for line in added if line.strip()] in (CLEAN_LINES, CLEAN_LINES[1:])
        assert text.startswith("\ufeff") == original.startswith("\ufeff")


def test_a_new_config_gets_the_umask_mode(run, answered_no) -> None:
    old = os.umask(0o077)
    try:
        screen(run, None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600


def test_a_symlinked_config_is_written_through_to_its_target(
    run, answered_no, tmp_path: Path
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "voiceguide.toml"
    real.write_text("# from my dotfiles\nrate = 120\n")
    real.chmod(0o640)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(real)
    screen(run, None)
    assert path.is_symlink() and path.resolve() == real
    assert (
        real.read_text()
        == "# from my dotfiles\nrate = 120\nscreened = true\nscreened_on = 2026-03-01\n"
    )
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in dotfiles.iterdir()) == ["voiceguide.toml"]


def test_an_unwritable_config_folder_is_a_warning_and_play_goes_on(
    run, answered_no, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "voiceguide").write_text("a file where the config folder should be")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert result.err.startswith("warning: could not save your answers (")
    assert answered_no == [SHORT, "run"]
