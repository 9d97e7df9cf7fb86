"""What `export` writes, and where: a file it replaces keeps its mode and owner, a symlink is
written through, a read-only file or one of the export's own inputs is refused before any
work, a long name works, a killed export's leftovers are removed by the next one, and each
transcript format reads back, through ffmpeg, as the cues' own text."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from voiceguide import api, files, sounds
from voiceguide.config import config_path
from voiceguide.export import JOINER

from .conftest import ROUTINES, decode
from .test_faults import environment, long_quiet, start, wait_for

SHORT = str(ROUTINES / "short.toml")
pytestmark = pytest.mark.speech


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any synthesis fails the test: a refusal must come before it."""

    def prepare(*_: object, **__: object) -> None:
        raise AssertionError("synthesis started before the output was checked")

    monkeypatch.setattr(api, "prepare", prepare)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- A file replaced keeps what it was ----------------------------------------------------------


def test_a_replaced_file_keeps_its_mode_owner_and_group(run, tmp_path: Path) -> None:
    target = tmp_path / "back.wav"
    target.write_bytes(b"the old export")
    target.chmod(0o600)
    owner = (12345, 23456) if os.geteuid() == 0 else (os.getuid(), os.getgroups()[-1])
    os.chown(target, *owner)
    result = run("export", SHORT, "-o", str(target))
    assert result.status == 0, result.err
    assert len(decode(target)) > 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (target.stat().st_uid, target.stat().st_gid) == owner
    assert names(tmp_path) == ["back.wav"]


def test_new_files_get_the_mode_the_umask_gives(run, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        result = run(
            "export", SHORT, "-o", str(tmp_path / "a.ogg"), "--transcript", str(tmp_path / "a.srt")
        )
    finally:
        os.umask(old)
    assert result.status == 0, result.err
    assert [stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("a.ogg", "a.srt")] == [0o600] * 2


def test_a_symlink_is_written_through_to_its_target(run, tmp_path: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    real = music / "back.wav"
    real.write_bytes(b"the old export")
    real.chmod(0o640)
    link, dangling = tmp_path / "back.wav", tmp_path / "back.vtt"
    link.symlink_to(real)
    dangling.symlink_to(music / "back.vtt")  # its target does not exist yet
    result = run("export", SHORT, "-o", str(link), "--transcript", str(dangling))
    assert result.status == 0, result.err
    assert link.is_symlink() and dangling.is_symlink()
    assert len(decode(real)) > 0 and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert (music / "back.vtt").read_text(encoding="utf-8").startswith("WEBVTT\n")
    assert names(music) == ["back.vtt", "back.wav"], "written in the target's folder, no leftovers"
    assert names(tmp_path) == ["back.vtt", "back.wav", "music"]


def test_a_read_only_file_is_refused_unless_forced(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.mp3"
    target.write_bytes(b"a file I protected")
    target.chmod(0o444)
    with monkeypatch.context() as patch:
        patch.setattr(api, "prepare", lambda *_, **__: pytest.fail("synthesis started"))
        result = run("export", SHORT, "-o", str(target))
    assert result.status == 2
    assert result.err == (
        f"error: {target}: the file is read-only; to replace it anyway (it stays read-only), "
        "use --force\n"
    )
    assert target.read_bytes() == b"a file I protected"
    result = run("export", SHORT, "-o", str(target), "--force")
    assert result.status == 0, result.err
    assert len(decode(target)) > 0 and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert names(tmp_path) == ["keep.mp3"]


def test_a_pipe_or_a_folder_is_refused(run, tmp_path: Path, no_work: None) -> None:
    os.mkfifo(tmp_path / "pipe.wav")
    result = run("export", SHORT, "-o", str(tmp_path / "pipe.wav"))
    assert result.status == 2 and "is not a regular file" in result.err
    (tmp_path / "folder.wav").mkdir()
    result = run("export", SHORT, "-o", str(tmp_path / "folder.wav"))
    assert result.status == 2 and result.err.endswith("folder.wav: is a folder\n")


# --- The export's own inputs ---------------------------------------------------------------------


def tone(path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\x00\x10\x00\xf0" * 2000)


@pytest.mark.parametrize(
    "output",
    [
        "routine.wav",  # the routine file itself, named .wav
        "bell.wav",  # the routine's own chime
        "hard.wav",  # a hard link to the routine file
        "config.wav",  # a symlink to the user's config
        "shipped.wav",  # a symlink to a shipped sound
        "transcript",  # the transcript a symlink to the routine file
    ],
)
def test_an_export_never_writes_over_its_own_inputs(
    run, tmp_path: Path, no_work: None, output: str
) -> None:
    routine = tmp_path / "routine.wav"
    routine.write_text(
        'title = "Bell"\n[[technique]]\ntitle = "Ring"\n'
        'steps = [{ say = "Listen." }, { chime = "bell.wav" }]\n'
    )
    tone(tmp_path / "bell.wav")
    config = config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("rate = 140\n")
    os.link(routine, tmp_path / "hard.wav")
    (tmp_path / "config.wav").symlink_to(config)
    (tmp_path / "shipped.wav").symlink_to(sounds.sound_dir() / "hold-end.wav")
    (tmp_path / "notes.vtt").symlink_to(routine)
    inputs = [routine, tmp_path / "bell.wav", config, sounds.sound_dir() / "hold-end.wav"]
    before = [p.read_bytes() for p in inputs]
    if output == "transcript":
        args = ["-o", str(tmp_path / "new.wav"), "--transcript", str(tmp_path / "notes.vtt")]
        shown = tmp_path / "notes.vtt"
    else:
        args, shown = ["-o", str(tmp_path / output)], tmp_path / output
    result = run("export", str(routine), *args)
    assert result.status == 2
    assert result.err.startswith(f"error: {shown}: is one of the export's own inputs (")
    assert result.err.endswith("); write the export to another file\n")
    assert [p.read_bytes() for p in inputs] == before
    assert "new.wav" not in names(tmp_path)


# --- Names and leftovers -------------------------------------------------------------------------


def test_a_name_of_240_characters_exports(run, tmp_path: Path) -> None:
    audio, transcript = tmp_path / ("a" * 236 + ".wav"), tmp_path / ("é" * 118 + ".lrc")
    result = run("export", SHORT, "-o", str(audio), "--transcript", str(transcript))
    assert result.status == 0, result.err
    assert len(decode(audio)) > 0 and transcript.read_text(encoding="utf-8").startswith("[ti:")
    assert names(tmp_path) == sorted([audio.name, transcript.name])


@pytest.mark.parametrize("name", ["a" * 255, "é" * 127 + "a", "short.wav"])
def test_temporary_names_stay_within_the_longest_name(tmp_path: Path, name: str) -> None:
    temp = files.temp_path(tmp_path / name)
    assert len(os.fsencode(temp.name)) <= 255
    assert temp.name.startswith("." + name[:100]) and temp.name.endswith(".part")
    temp.touch()  # the file system takes it


def test_a_killed_exports_leftovers_go_with_the_next_export(run, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = environment(tmp_path, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    target = out_dir / "routine.mp3"
    process = start(["export", str(long_quiet(tmp_path)), "-o", str(target)], env, tmp_path)

    def writing() -> bool:
        return any(p.stat().st_size for p in out_dir.glob(".routine.mp3.*.part"))

    wait_for(writing, process, "writing audio")
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()  # reaped: its pid is gone
    [left] = out_dir.glob(".routine.mp3.*.part")
    assert left.name.startswith(f".routine.mp3.{process.pid}.")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # the same naming, but its process is alive: being written now
        alive = out_dir / f".other.wav.{sleeper.pid}.0123abcd.part"
        alive.write_bytes(b"being written")
        (out_dir / ".notes.part").write_text("not ours")
        result = run("export", SHORT, "-o", str(out_dir / "next.wav"))
        assert result.status == 0, result.err
        assert names(out_dir) == sorted([alive.name, ".notes.part", "next.wav"])
    finally:
        sleeper.kill()
        sleeper.wait()


# --- Transcripts ---------------------------------------------------------------------------------

HOSTILE = r"""
title = "Evening] [ar:x"
transition = 0

[[technique]]
title = 'Tags <i>and</i> & entities &amp; --> arrows'
steps = [
  { say = "1234" },
  { say = "00:00:01,000 --> 00:00:02,000" },
  { say = '[00:05.00] [ar:someone] a bracket at the start' },
  { say = '{\an8} override {b} and \N a backslash, \h and a space' },
  { say = '<b>bold</b> <font color="red">red</font> <x> and </i>' },
  { say = 'WEBVTT NOTE -> and ---> and &lt; and &#38; as written' },
  { say = "Café — “quotes” … 👩‍💻 and {Y:i} styles" },
]
"""


def ass_text(raw: str) -> str:
    """What the text of an ASS event (ffmpeg's own form of every subtitle) says: escapes undone,
    override blocks `{...}` and line breaks read as ffmpeg and libass read them."""
    out, i = [], 0
    while i < len(raw):
        pair = raw[i : i + 2]
        if pair in ("\\{", "\\}", "\\\\"):
            out.append(pair[1])
            i += 2
        elif pair in ("\\N", "\\n", "\\h"):
            out.append("\n" if pair != "\\h" else "\xa0")
            i += 2
        elif raw[i] == "{" and "}" in raw[i:]:
            i = raw.index("}", i) + 1
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def read_back(transcript: Path) -> list[tuple[float, str]]:
    """(start in seconds, text) of each cue, as ffmpeg reads the transcript and writes ASS."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(transcript), "-f", "ass", "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    cues = []
    for line in out.splitlines():
        if line.startswith("Dialogue: "):
            fields = line.split(",", 9)
            h, m, s = fields[1].split(":")
            cues.append((int(h) * 3600 + int(m) * 60 + float(s), ass_text(fields[9])))
    return cues


@pytest.mark.parametrize("suffix", [".vtt", ".srt", ".lrc"])
def test_every_cue_reads_back_through_ffmpeg_as_its_text(
    run, routine_file, tmp_path: Path, suffix: str
) -> None:
    routine = routine_file(HOSTILE)
    transcript = tmp_path / f"hostile{suffix}"
    result = run(
        "export", str(routine), "-o", str(tmp_path / "h.wav"), "--transcript", str(transcript)
    )
    assert result.status == 0, result.err
    shown = run("show", str(routine), "--json")
    cues = [
        (e["start"], e["text"]) for e in json.loads(shown.out)["events"] if e["kind"] == "speech"
    ]
    heard = read_back(transcript)
    assert [text.replace(JOINER, "") for _, text in heard] == [text for _, text in cues]
    for (at, _), (expected, _) in zip(heard, cues, strict=True):
        assert at == pytest.approx(expected, abs=0.011)
    if suffix == ".lrc":
        title = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format_tags=title",
                "-of",
                "csv=p=0",
                str(transcript),
            ],
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()
        assert title == "Evening) (ar:x"
    text = transcript.read_text(encoding="utf-8")
    if suffix == ".vtt":
        assert text.count("-->") == len(cues), "an arrow only in each timing line"
    if suffix == ".srt":
        assert text.count("-->") == len(cues)
        lines = text.splitlines()
        numbers = [line for line in lines if line.isdecimal()]
        assert numbers == [str(i) for i in range(1, len(cues) + 1)], "a number only as an index"


def test_an_export_never_replaces_a_shipped_bed(run, tmp_path: Path) -> None:
    from voiceguide.ambience import bed_dir

    target = bed_dir() / "drone.wav"
    before = target.read_bytes()
    result = run("export", "desk-break", "--engine", "espeak", "-o", str(target))
    assert result.status == 2 and "own inputs" in result.err
    assert target.read_bytes() == before
