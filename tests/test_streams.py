"""Every way standard output or error can fail, through the real CLI in a subprocess: an
encoding that lacks a character, a full disk, a closed descriptor, a reader that has gone. Each
is one clear line where one can be written, never a traceback; a reader that has gone (`| head
-1`) ends the command quietly. And the status line of `play` never wraps."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from voiceguide.terminal import fit, width

from .audio_device import VirtualDevice
from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")
REPO = Path(__file__).parent.parent
FULL = "error: cannot write to standard output (No space left on device)\n"
CLOSED = "error: cannot write to standard output (it is closed)\n"
BROKEN_PIPE = 141


def voiceguide(
    args: list[str], redirect: str = "", env: dict[str, str] | None = None, **popen: object
) -> subprocess.CompletedProcess[str]:
    """`python -m voiceguide ARGS REDIRECT` run by a shell, e.g. REDIRECT ">/dev/full"."""
    command = shlex.join([sys.executable, "-m", "voiceguide", *args])
    return subprocess.run(
        ["sh", "-c", f"{command} {redirect}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **popen,  # type: ignore[call-overload]
    )


@pytest.fixture
def dashes(tmp_path: Path) -> Path:
    path = tmp_path / "dashes.toml"
    path.write_text(
        'title = "Dash — test"\n[[technique]]\ntitle = "Neck — release"\n'
        'steps = [{ say = "Slowly — gently… then rest." }]\n',
        encoding="utf-8",
    )
    return path


COMMANDS = {
    "list": ["list"],
    "show": ["show", "upper-back", "--estimate"],
    "show --json": ["show", "upper-back", "--estimate", "--json"],
    "check": ["check", "upper-back"],
    "voices": ["voices"],
}


# --- Encodings -----------------------------------------------------------------------------------


def test_text_the_encoding_cannot_show_is_replaced(dashes: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONIOENCODING="latin-1")
    shown = voiceguide(["show", str(dashes), "--estimate"], env=env, encoding="latin-1")
    assert shown.returncode == 0, shown.stderr
    assert "Dash ? test" in shown.stdout and "Slowly ? gently? then rest." in shown.stdout
    voices = voiceguide(["voices"], env=env, encoding="latin-1")
    assert voices.returncode == 0, voices.stderr
    assert "en-us" in voices.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'title = "Bad"\n[[technique]]\ntitle = "Neck"\nsteps = [{ say = "— … —" }]\n',
        encoding="utf-8",
    )
    checked = voiceguide(["check", str(bad)], env=env, encoding="latin-1")
    assert checked.returncode == 2
    assert checked.stderr == (  # standard error escapes, as Python's own does
        "error: bad.toml: technique 1, step 1, say: must have something to say, not only "
        "punctuation, got '\\u2014 \\u2026 \\u2014'\n"
    )
    assert "Traceback" not in shown.stderr + voices.stderr + checked.stderr


# --- A full disk, a closed descriptor ------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_standard_output_is_one_line(command: str) -> None:
    result = voiceguide(COMMANDS[command], ">/dev/full")
    assert (result.returncode, result.stderr) == (1, FULL)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_standard_output_is_one_line(command: str) -> None:
    result = voiceguide(COMMANDS[command], ">&-")
    assert (result.returncode, result.stderr) == (1, CLOSED)


@pytest.mark.speech
def test_export_reports_to_standard_output_when_standard_error_is_closed(tmp_path: Path) -> None:
    target = tmp_path / "short.wav"
    done = voiceguide(["export", SHORT, "-o", str(target)], "2>&-")
    assert done.returncode == 0 and target.exists()
    assert done.stdout.startswith(f"wrote {target} (")
    refused = voiceguide(["export", SHORT, "-o", str(tmp_path / "short.aiff")], "2>&-")
    assert refused.returncode == 2
    assert refused.stdout.startswith("error: ") and "unknown audio format '.aiff'" in refused.stdout
    full = voiceguide(["show", "no-such-routine"], "2>/dev/full")
    assert full.returncode == 2 and full.stdout.startswith("error: no routine or technique")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.wav"]


# --- A reader that has gone ----------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_has_gone_ends_it_quietly(command: str) -> None:
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE
    try:
        result = subprocess.run(
            [sys.executable, "-m", "voiceguide", *COMMANDS[command]],
            cwd=REPO,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (BROKEN_PIPE, "")


def test_head_takes_the_first_line_and_nothing_is_said() -> None:
    for args in (["show", "upper-back", "--estimate"], ["list"]):
        command = shlex.join([sys.executable, "-m", "voiceguide", *args])
        result = subprocess.run(
            ["sh", "-c", f"{command} | head -1"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.stderr == ""
        assert result.stdout.count("\n") == 1 and result.returncode == 0


def test_list_prints_nothing_before_an_error(run) -> None:
    """A broken technique of the user's is found after the routines are listed."""
    from voiceguide.catalog import user_folder

    user_folder().mkdir(parents=True)
    (user_folder() / "mine.toml").write_text('title = "Mine"\nsteps = []\n')
    result = run("list")
    assert result.status == 2 and result.out == ""
    assert result.err.startswith("error: ") and "mine.toml" in result.err


# --- play ----------------------------------------------------------------------------------------


def play(
    device: VirtualDevice, *args: str, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen[bytes]:
    base = dict(device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    base.pop("COLUMNS", None)
    base.pop("LINES", None)
    return subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "play", SHORT, "--yes", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[call-overload]
    )


def finished(proc: subprocess.Popen[bytes], timeout: float = 30) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"play did not end: {err.decode(errors='replace')}")
    return proc.returncode, err.decode(errors="replace")


@pytest.mark.device
@pytest.mark.speech
@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_play_with_stdout_full_or_closed_is_one_line(
    audio_device: VirtualDevice, stdout: str
) -> None:
    if stdout == "full":
        with open("/dev/full", "wb") as full:
            proc = play(audio_device, stdin=subprocess.DEVNULL, stdout=full)
    else:  # closed in the child alone, by a shell
        command = shlex.join([sys.executable, "-m", "voiceguide", "play", SHORT, "--yes"])
        env = dict(audio_device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
        proc = subprocess.Popen(
            ["sh", "-c", f"exec {command} >&-"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    assert finished(proc) == (1, FULL if stdout == "full" else CLOSED)


@pytest.mark.device
@pytest.mark.speech
def test_play_into_a_reader_that_has_gone_ends_quietly(audio_device: VirtualDevice) -> None:
    """`play | head -1`: the next status line, after the reader has gone, ends the routine."""
    leader, follower = pty.openpty()
    proc = play(audio_device, stdin=follower, stdout=subprocess.PIPE)
    os.close(follower)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # how to begin, on a terminal
        os.write(leader, b"\n")
        assert b"Introduction" in proc.stdout.readline()
        proc.stdout.close()  # the reader goes
        os.write(leader, b"n")  # the next technique: a new status line
        assert finished(proc) == (BROKEN_PIPE, "")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()


def read_for(fd: int, seconds: float) -> bytes:
    data, end = b"", time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:  # the other side closed
                break
    return data


def resize(fd: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))


@pytest.mark.device
@pytest.mark.speech
def test_the_status_line_fits_a_narrow_resized_terminal_in_any_encoding(
    audio_device: VirtualDevice,
) -> None:
    leader, follower = pty.openpty()
    resize(follower, 50)
    proc = play(audio_device, env={"PYTHONIOENCODING": "latin-1"}, stdin=follower, stdout=follower)
    os.close(follower)
    try:
        shown = read_for(leader, 3)
        assert b"Keys: space pause" in shown, shown  # then "Press Enter", on standard error
        os.write(leader, b"\n")
        wide = read_for(leader, 8)  # into the safety cue, longer than the line
        resize(leader, 24)
        read_for(leader, 1.5)  # a redraw at the new width comes within a second
        narrow = read_for(leader, 3)
        os.write(leader, b"q")
        status, err = finished(proc)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    assert (status, err) == (0, "Press Enter to begin, or q to quit")
    wide_lines = re.split(r"\r\x1b\[K", wide.decode("latin-1"))[1:]
    narrow_lines = re.split(r"\r\x1b\[K", narrow.decode("latin-1"))[1:]
    assert wide_lines and narrow_lines
    assert max(map(len, wide_lines)) <= 49  # latin-1: a character a column
    assert max(map(len, narrow_lines)) <= 23
    assert any("?" in line for line in wide_lines), "… replaced, where latin-1 has none"
    assert not any("\n" in line for line in wide_lines + narrow_lines)


@pytest.mark.parametrize(
    ("line", "columns", "expected"),
    [
        ("0:05/2:15  Introduction · speech", 80, "0:05/2:15  Introduction · speech"),
        ("0:05/2:15  Introduction · speech", 12, "0:05/2:15  …"),
        ("0:05  肩の体操 · hold", 10, "0:05  肩…"),
        ("0:05  Café · hold", 9, "0:05  Ca…"),
    ],
)
def test_fit_counts_terminal_columns(line: str, columns: int, expected: str) -> None:
    assert fit(line, columns) == expected
    assert width(fit(line, columns)) <= columns
