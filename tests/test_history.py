"""The history in a real SQLite file: every `play` through the real CLI (a fake sound device
on a fake clock, keys scripted), how it ended and where, `history`, `--resume`, and a damaged
database that never stops a session."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import typing
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voiceguide import api, history, terminal
from voiceguide import sink as sinks
from voiceguide.catalog import load_routine
from voiceguide.clip import SAMPLE_RATE
from voiceguide.compiler import compile_routine
from voiceguide.errors import Terminated, UsageError
from voiceguide.sink import FakeClock, FakeSink
from voiceguide.speech import FakeSynthesizer
from voiceguide.timeline import ms_to_samples

from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")
REPO = Path(__file__).parent.parent
BASE = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
pytestmark = pytest.mark.speech

THREE = """\
title = "Three parts"
transition = 1

[[technique]]
title = "First"
steps = [{ hold = 4 }]

[[technique]]
title = "Second"
steps = [{ hold = 4 }]

[[technique]]
title = "Third"
steps = [{ hold = 4 }]
"""

Action = str | BaseException | Callable[[], object]


@dataclass
class Device:
    """The fake sound device and clock `play` gets, and keys pressed at given times."""

    clock: FakeClock
    sinks: list[FakeSink] = field(default_factory=list)
    script: list[tuple[float, Action]] = field(default_factory=list)

    def at(self, seconds: float, action: Action) -> None:
        self.script.append((seconds, action))
        self.script.sort(key=lambda step: step[0])


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> Device:
    clock = FakeClock()
    found = Device(clock)

    def make_sink(_: object = None) -> FakeSink:
        made = FakeSink(clock)
        found.sinks.append(made)
        return made

    @contextlib.contextmanager
    def keys(stream: object = None) -> Iterator[Callable[[float], str | None]]:
        def read(timeout: float) -> str | None:
            clock.advance(timeout)
            if found.script and clock.now() >= found.script[0][0]:
                _, action = found.script.pop(0)
                if isinstance(action, BaseException):
                    raise action
                if callable(action):
                    action()
                    return None
                return action
            return None

        yield read

    monkeypatch.setattr(sinks, "SimpleaudioSink", make_sink)
    monkeypatch.setattr(sinks, "SystemClock", lambda: clock)
    monkeypatch.setattr(terminal, "keys", keys)
    monkeypatch.setattr(
        history.clock, "now", lambda: BASE + datetime.timedelta(seconds=clock.now())
    )
    return found


@pytest.fixture
def three(tmp_path: Path) -> str:
    path = tmp_path / "three.toml"
    path.write_text(THREE)
    return str(path)


def starts(spec: str, pace: float | None = None, detail: str | None = None) -> dict[str, float]:
    """Each section's start in seconds, as `play` lays it out with espeak-ng."""
    timeline = api.compile(spec, api.Options(engine="espeak", pace=pace, detail=detail))
    return {s.title: s.start / 1000 for s in timeline.sections}


def play(run, spec: str, *args: str):
    return run("play", spec, "--yes", "--engine", "espeak", *args)


def rows() -> list[dict[str, object]]:
    with sqlite3.connect(history.database_path()) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM sessions ORDER BY id")]


def test_a_finished_session_is_one_row_with_everything(run, device: Device) -> None:
    result = play(run, SHORT, "--pace", "0.5")
    assert result.status == 0, result.err
    (row,) = rows()
    assert row["routine"] == str(Path(SHORT).resolve()) and row["title"] == "Short test"
    assert row["outcome"] == "finished" and row["technique"] == 2  # the closing
    assert (row["engine"], row["voice"], row["rate"], row["pace"]) == ("espeak", "en-us", 150, 0.5)
    assert len(str(row["routine_hash"])) == 16
    started = datetime.datetime.fromisoformat(str(row["started"]))
    ended = datetime.datetime.fromisoformat(str(row["ended"]))
    assert (started - BASE).total_seconds() < 1, "written when the first sound plays"
    assert (ended - BASE).total_seconds() == pytest.approx(device.clock.now(), abs=1)
    with sqlite3.connect(history.database_path()) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        version = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        assert version == (len(history.MIGRATIONS),)


def test_q_is_recorded_where_it_stopped_and_says_how_to_resume(
    run, device: Device, three: str
) -> None:
    device.at(starts(three)["Second"] + 1, "q")
    result = play(run, three)
    assert result.status == 0, result.err
    (row,) = rows()
    assert (row["outcome"], row["technique"], row["technique_title"]) == ("quit", 2, "Second")
    assert result.out.rstrip().endswith(
        "Stopped at Second (technique 2 of 3). To carry on from there: voiceguide play --resume"
    )
    history_ = run("history")
    assert "stopped (q) at Second (2/3)" in history_.out


def test_resume_starts_at_the_technique_where_it_stopped(run, device: Device, three: str) -> None:
    device.at(starts(three, pace=2.0, detail="brief")["Second"] + 1, "q")
    assert play(run, three, "--pace", "2", "--detail", "brief").status == 0
    device.clock.t = 0.0
    result = run("play", "--resume", "--yes")
    assert result.status == 0, result.err
    first, second = rows()
    assert (second["routine"], second["first_technique"]) == (first["routine"], 2)
    assert second["outcome"] == "finished" and second["technique"] == 4
    assert (second["pace"], second["engine"], second["detail"]) == (2.0, "espeak", "brief"), (
        "as it was played"
    )
    again = run("play", "--resume", "--yes")
    assert again.status == 2
    assert again.err == ("error: nothing to resume: the last session finished, or there is none\n")


@pytest.mark.parametrize("given", [(), ("--voice", "en-gb")])
def test_resume_with_a_voice_no_longer_here_plays_on_with_todays(
    run, device: Device, three: str, given: tuple[str, ...]
) -> None:
    """The voice of the stopped session was removed since: one warning, and the resume plays
    with the voice chosen now instead of refusing; a voice given now is simply taken."""
    device.at(starts(three)["Second"] + 1, "q")
    assert play(run, three).status == 0
    with sqlite3.connect(history.database_path()) as connection:
        connection.execute("UPDATE sessions SET voice = 'gone-voice'")
    device.clock.t = 0.0
    result = run("play", "--resume", "--yes", *given)
    assert result.status == 0, result.err
    warned = result.err.startswith(
        "warning: the last session's voice 'gone-voice' (espeak) cannot speak here (unknown voice"
    )
    assert warned == (not given), result.err
    _, second = rows()
    voice = given[1] if given else "en-us"
    assert (second["first_technique"], second["engine"], second["voice"]) == (2, "espeak", voice)


def test_resume_speaks_where_it_is(three: str) -> None:
    routine = load_routine(three)
    timeline = compile_routine(routine, lambda text: 1000, start_at=3)
    opening = [e.text for e in timeline.sections[0].events if e.kind == "speech"]
    assert opening[0] == "Resuming Three parts, at Third."
    assert any("Stop at once" in text for text in opening), "safety, in one sentence"
    assert [s.title for s in timeline.sections] == ["Resuming", "Third", "Closing"]


def test_export_starts_where_a_resume_would(three: str, tmp_path: Path) -> None:
    """api.export(start_at=n) is what playing(start_at=n) plays: the resumed opening, then
    technique n on; a technique the routine lacks is refused before anything is written."""
    audio, vtt = tmp_path / "rest.wav", tmp_path / "rest.vtt"
    timeline = api.export(three, audio, transcript=vtt, engine=FakeSynthesizer(), start_at=3)
    assert [s.title for s in timeline.sections] == ["Resuming", "Third", "Closing"]
    assert timeline == api.prepare(three, engine=FakeSynthesizer(), start_at=3).timeline
    assert cue_texts(vtt)[0] == "Resuming Three parts, at Third."
    assert "First." not in cue_texts(vtt) and "Second." not in cue_texts(vtt)
    with wave.open(str(audio), "rb") as w:
        assert w.getnframes() == ms_to_samples(timeline.duration, SAMPLE_RATE)
    whole = api.export(three, tmp_path / "all.wav", engine=FakeSynthesizer())
    assert [s.title for s in whole.sections][:2] == ["Introduction", "First"], "1 by default"
    with pytest.raises(UsageError, match=r"cannot start at technique 4; it has 3 technique"):
        api.export(three, tmp_path / "x.wav", engine=FakeSynthesizer(), start_at=4)
    assert sorted(os.listdir(tmp_path)) == ["all.wav", "rest.vtt", "rest.wav", "three.toml"]


def cue_texts(vtt: Path) -> list[str]:
    blocks = vtt.read_text(encoding="utf-8").split("\n\n")[1:]
    return [block.splitlines()[1] for block in blocks if block.strip()]


def resumed_elsewhere(
    run, device: Device, spec: str, stop_in: str, folder: Path, monkeypatch: pytest.MonkeyPatch
):
    """q a second into section `stop_in`, then `play --resume` with no sound device, exported
    to rest.wav in `folder`: its result, and the cues of its transcript."""
    device.at(starts(spec)[stop_in] + 1, "q")
    assert play(run, spec).status == 0
    monkeypatch.setattr(
        sinks, "SimpleaudioSink", lambda _=None: FakeSink(device.clock, available=False)
    )
    audio = folder / "rest.wav"
    result = run("play", "--resume", "--yes", "--else-export", str(audio))
    assert result.status == 0, result.err
    return result, cue_texts(audio.with_suffix(".vtt"))


def test_resume_with_no_device_exports_from_where_it_stopped(
    run, device: Device, three: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--else-export writes what `play --resume` would have played, not the whole routine;
    without it, the line suggests the command that does."""
    result, cues = resumed_elsewhere(run, device, three, "Second", tmp_path, monkeypatch)
    audio = tmp_path / "rest.wav"
    assert cues[0] == "Resuming Three parts, at Second." and "First." not in cues
    expected = api.prepare(three, api.Options(engine="espeak"), start_at=2).timeline
    assert [s.title for s in expected.sections] == ["Resuming", "Second", "Third", "Closing"]
    assert cues == [e.text for e in expected.events if e.kind == "speech"]
    with wave.open(str(audio), "rb") as w:
        assert w.getnframes() == ms_to_samples(expected.duration, SAMPLE_RATE)
    assert "exporting instead, from technique 2" in result.err
    assert [row["outcome"] for row in rows()] == ["quit"], "still there to resume"
    told = run("play", "--resume", "--yes")
    assert told.status == 1
    assert told.err.endswith(
        "; to listen elsewhere, export it: "
        f"voiceguide play {Path(three).resolve()} --resume --else-export FILE.mp3\n"
    )


def test_ctrl_c_is_recorded_with_where_it_stopped(run, device: Device, three: str) -> None:
    device.at(starts(three)["Third"] + 1, KeyboardInterrupt())
    result = play(run, three)
    assert result.status == 130
    (row,) = rows()
    assert (row["outcome"], row["technique"], row["technique_title"]) == (
        "interrupted",
        3,
        "Third",
    )


def test_a_crash_is_recorded(run, device: Device, three: str) -> None:
    def fail() -> None:
        raise RuntimeError("something broke")

    device.at(starts(three)["First"] + 1, fail)
    with pytest.raises(RuntimeError):
        play(run, three)
    (row,) = rows()
    assert (row["outcome"], row["technique"]) == ("crashed", 1)


def test_a_lost_device_is_recorded(run, device: Device, three: str) -> None:
    def unplug() -> None:
        for made in device.sinks:
            made.available = False

    device.at(starts(three)["First"] + 1, unplug)
    device.at(starts(three)["First"] + 1.5, "n")  # the next buffer finds no device
    result = play(run, three)
    assert result.status == 1 and "no sound device" in result.err
    (row,) = rows()
    assert (row["outcome"], row["technique"]) == ("device-lost", 1)


SIGNALLED = """
import contextlib, os, signal, sys
from voiceguide import cli, sink, terminal
clock = sink.FakeClock()
sink.SimpleaudioSink = lambda *_: sink.FakeSink(clock)
sink.SystemClock = lambda: clock
sent = []
@contextlib.contextmanager
def keys(stream=None):
    def read(timeout):
        clock.advance(timeout)
        if clock.now() >= float(sys.argv[2]) and not sent:
            sent.append(1)
            os.kill(os.getpid(), getattr(signal, sys.argv[3]))
    yield read
terminal.keys = keys
cli.main(["play", sys.argv[1], "--yes", "--engine", "espeak"])
"""


@pytest.mark.parametrize(
    ("name", "status", "outcome"),
    [
        ("SIGKILL", -signal.SIGKILL, "playing"),
        ("SIGINT", 130, "interrupted"),
        ("SIGTERM", 130, "terminated"),
        ("SIGHUP", 130, "hung-up"),
    ],
)
def test_a_signal_mid_session_leaves_a_row_that_says_where(
    three: str, name: str, status: int, outcome: str
) -> None:
    """A real process, a real signal: killed, the row still says where it was."""
    at = starts(three)["Second"] + 1
    done = subprocess.run(
        [sys.executable, "-c", SIGNALLED, three, str(at), name],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == status, done.stderr
    (row,) = rows()
    assert (row["outcome"], row["technique"], row["technique_title"]) == (outcome, 2, "Second")


def ends(result, device: Device, spec: str) -> None:
    """The session played to its end, whatever the history did."""
    assert result.status == 0, result.err
    assert device.clock.now() * 1000 >= api.compile(spec, api.Options(engine="espeak")).duration


def one_warning(result) -> str:
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.err
    assert "this session plays without history" in warnings[0]
    return warnings[0]


def test_a_corrupt_database_is_one_warning_and_the_session_plays(run, device: Device) -> None:
    path = history.database_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4096))
    result = play(run, SHORT)
    assert "not a database" in one_warning(result)
    ends(result, device, SHORT)
    assert run("history").status == 1, "history itself says it cannot read it"


def test_a_locked_database_is_one_warning_and_the_session_plays(run, device: Device) -> None:
    with history.opened():
        pass  # a database with its schema
    locker = sqlite3.connect(history.database_path(), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        result = play(run, SHORT)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "locked" in one_warning(result)
    ends(result, device, SHORT)
    assert rows() == []


def test_a_database_locked_mid_session_is_one_warning(run, device: Device, three: str) -> None:
    lockers: list[sqlite3.Connection] = []

    def lock() -> None:
        locker = sqlite3.connect(history.database_path(), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        lockers.append(locker)

    device.at(starts(three)["First"] - 3, lock)
    result = play(run, three)
    for locker in lockers:
        locker.close()
    assert lockers and "locked" in one_warning(result)
    ends(result, device, three)
    (row,) = rows()
    assert (row["outcome"], row["technique"]) == ("playing", 0), "left as it was last written"


def test_an_unwritable_data_folder_is_one_warning_and_the_session_plays(
    run, device: Device
) -> None:
    folder = history.database_path().parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the data folder should be")
    result = play(run, SHORT)
    one_warning(result)
    ends(result, device, SHORT)


def test_a_database_from_a_newer_version_is_left_alone(run, device: Device) -> None:
    with history.opened() as connection:
        connection.execute("INSERT INTO schema_version VALUES (99)")
    result = play(run, SHORT)
    assert "schema version 99" in one_warning(result)
    ends(result, device, SHORT)


def test_history_lists_sessions_minutes_and_the_streak(
    run, device: Device, three: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in (2, 1, 0):  # three days in a row, ending today (BASE, as the fake clock says)
        device.clock.t = 0.0
        stamp = BASE - datetime.timedelta(days=day)

        def moved(stamp: datetime.datetime = stamp) -> datetime.datetime:
            return stamp + datetime.timedelta(seconds=device.clock.now())

        monkeypatch.setattr(history.clock, "now", moved)
        if day == 0:
            device.at(starts(three)["Second"] + 1, "q")
        assert play(run, three).status == 0
    data = json.loads(run("history", "--json").out)
    assert data["count"] == 3 and data["streak_days"] == 3
    assert [s["outcome"] for s in data["sessions"]] == ["quit", "finished", "finished"]
    minutes = sum(s["minutes"] for s in data["sessions"])  # each rounded to 0.01
    assert data["total_minutes"] == pytest.approx(minutes, abs=0.02) and minutes > 1
    table = run("history").out.splitlines()
    assert table[0].split() == ["date", "routine", "minutes", "ended"]
    assert len(table) == 5 and table[-1].startswith("total: ")
    assert "streak: 3 days" in table[-1]


def test_streak_counts_days_in_a_row_up_to_today_or_yesterday() -> None:
    day = datetime.date(2026, 3, 10)
    one = datetime.timedelta(days=1)
    assert history.streak(set(), day) == 0
    assert history.streak({day, day - one, day - 3 * one}, day) == 2
    assert history.streak({day - one, day - 2 * one}, day) == 2, "today's may be still to come"
    assert history.streak({day - 2 * one}, day) == 0


def test_no_history_yet(run) -> None:
    assert run("history").out == "No sessions yet: voiceguide play starts one.\n"
    assert json.loads(run("history", "--json").out)["count"] == 0


def insert(**values: object) -> None:
    """A row as a session (or a damaged file) might have left it; the schema made first."""
    with history.opened():
        pass
    row: dict[str, object] = {
        "routine": "upper-back",
        "title": "Upper-back release",
        "routine_hash": "0" * 16,
        "started": BASE.isoformat(),
        "ended": (BASE + datetime.timedelta(minutes=5)).isoformat(),
        "technique": 2,
        "technique_title": "Second",
        "techniques": 3,
        "outcome": "quit",
        **values,
    }
    with sqlite3.connect(history.database_path()) as connection:
        names, marks = ", ".join(row), ", ".join("?" for _ in row)
        connection.execute(f"INSERT INTO sessions ({names}) VALUES ({marks})", tuple(row.values()))


DAMAGED = [
    ("started", "garbage"),
    ("started", "2026-03-01T09:10:00"),  # no time zone
    ("started", "2026-13-01T09:10:00+00:00"),
    ("started", b"\x00\x01"),
    ("ended", ""),
    ("ended", "2026-02-01T09:00:00+00:00"),  # before it started
    ("technique", "two"),
    ("technique", 99),
    ("technique", 2.5),
    ("techniques", 0),
    ("rate", -3),
    ("rate", "fast"),
    ("rate", 100_000),
    ("pace", 100.0),
    ("pace", -1),
    ("pace", float("inf")),
    ("pace", "nan"),
    ("engine", "loud"),
    ("detail", "terse"),
    ("voice", "en\x07us"),
    ("title", ""),
    ("routine", b"blob"),
    ("outcome", "exploded"),
    ("id", -5),
]


@pytest.mark.parametrize(("column", "value"), DAMAGED)
def test_a_damaged_row_is_skipped_with_one_warning(
    run, device: Device, three: str, column: str, value: object
) -> None:
    """Every value read back is checked like input: `history`, `play` (its detail from the
    history) and `--resume` skip the damaged row, with one warning, and go on."""
    insert(routine=str(Path(three).resolve()), title="Three parts")  # an older, sound session
    newer = (BASE + datetime.timedelta(hours=1)).isoformat()
    damaged = {"routine": str(Path(three).resolve()), "started": newer, "ended": newer}
    insert(**{**damaged, column: value})
    shown = run("history")
    assert shown.status == 0, shown.err
    (warning,) = shown.err.splitlines()
    assert warning.startswith("warning: history: ") and "skipped, damaged: " in warning, warning
    assert f"damaged: {column}: " in warning or column == "id" or "ended:" in warning
    assert "total: 5.0 minutes in 1 session(s)" in shown.out
    assert json.loads(run("history", "--json").out)["count"] == 1
    (config_dir := Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide").mkdir(parents=True)
    (config_dir / "config.toml").write_text('detail = "brief"\n')
    resumed = run("play", "--resume", "--yes")
    assert resumed.status == 0, resumed.err
    assert "Traceback" not in resumed.err
    assert resumed.err.count("warning:") <= 1, resumed.err
    last = rows()[-1]
    assert (last["first_technique"], last["outcome"]) == (2, "finished"), "the sound row resumed"
    assert (last["rate"], last["pace"]) == (150, 1.0), "the defaults, not a damaged row's"


@pytest.mark.parametrize("version", ["'two'", "x'0001'", "1.5", "-1", "''"])
def test_a_schema_version_that_is_not_a_number_never_stops_a_session(
    run, device: Device, version: str
) -> None:
    with history.opened() as connection:
        connection.execute("DELETE FROM schema_version")
        connection.execute(f"INSERT INTO schema_version VALUES ({version})")
    result = play(run, SHORT)
    assert "not a version: damaged" in one_warning(result)
    ends(result, device, SHORT)
    shown = run("history")
    assert shown.status == 1 and shown.err.startswith("error: ") and "Traceback" not in shown.err


@pytest.mark.parametrize("zone", ["UTC+24", "UTC-24", "<+99>-99", "Nowhere/Atlantis"])
def test_history_in_any_time_zone_never_raises(zone: str) -> None:
    """A whole day's offset is past what Python's datetime holds: the C library's wall clock."""
    insert()
    insert(started="0001-01-01T00:00:00+00:00", ended="0001-01-01T00:05:00+00:00")
    for args in (["history"], ["history", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "voiceguide", *args],
            env={**os.environ, "TZ": zone},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "in 2 session(s)" in done.stdout or '"count": 2' in done.stdout


def test_each_way_of_ending_has_its_own_label() -> None:
    labels = [history.SHOWN[outcome] for outcome in typing.get_args(history.Outcome)]
    assert len(set(labels)) == len(labels)
    assert history.SHOWN["terminated"] != history.SHOWN["interrupted"] == "Ctrl-C"


class Interrupted(sqlite3.Connection):
    """A connection whose first insert is followed at once by SIGTERM's KeyboardInterrupt:
    the worst moment, before the journal has learned the row's id."""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        cursor = super().execute(sql, *args)
        if sql.startswith("INSERT INTO sessions"):
            raise Terminated("SIGTERM")
        return cursor


def test_a_signal_right_after_the_first_write_is_still_an_interruption(
    run, device: Device, three: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: real(*a, **{**k, "factory": Interrupted})
    )
    result = play(run, three)
    assert result.status == 130, result.err
    monkeypatch.setattr(sqlite3, "connect", real)
    (row,) = rows()
    assert row["outcome"] == "terminated", "not 'cut off': the row was found again"
    assert "terminated (SIGTERM) in the opening" in run("history").out


READER_GONE = """
import contextlib, os, sys, time
from pathlib import Path
from voiceguide import cli, sink, terminal
clock = sink.FakeClock()
sink.SimpleaudioSink = lambda *_: sink.FakeSink(clock)
sink.SystemClock = lambda: clock
@contextlib.contextmanager
def keys(stream=None):
    def read(timeout):
        clock.advance(timeout)
        if clock.now() >= float(sys.argv[2]):
            deadline = time.monotonic() + 30
            while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
                time.sleep(0.01)  # until the reader has gone
    yield read
terminal.keys = keys
cli.main(["play", sys.argv[1], "--yes", "--engine", "espeak"])
"""


def test_a_reader_that_goes_is_not_a_crash(three: str, tmp_path: Path) -> None:
    """`play | head -1`: the reader takes its line and goes; the session ends quietly (141)
    and is kept as `output closed`."""
    gone = tmp_path / "gone"
    child = subprocess.Popen(
        [sys.executable, "-c", READER_GONE, three, str(starts(three)["Second"] + 1), str(gone)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()
    gone.touch()
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=120) == 141, err
    assert first and err == ""
    (row,) = rows()
    assert row["outcome"] == "output-closed" and row["technique"] in (1, 2)


@pytest.mark.parametrize(
    ("stop_in", "first_cue"),
    [("First", "Resuming Three parts, at First."), ("Introduction", "Three parts.")],
)
def test_resume_from_the_first_technique_opens_as_a_resume(
    run,
    device: Device,
    three: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop_in: str,
    first_cue: str,
) -> None:
    """Stopped in the first technique: the short "Resuming" opening, then that technique;
    stopped in the opening: the whole routine again, its full opening (not yet all heard)."""
    _, cues = resumed_elsewhere(run, device, three, stop_in, tmp_path, monkeypatch)
    assert cues[0] == first_cue
    assert "First." in cues, "the first technique is played again"


def test_history_json_is_exact_on_an_ascii_stream() -> None:
    title = "Café ☕ 𝄞 日本"
    insert(title=title, technique_title="Épaule")
    done = subprocess.run(
        [sys.executable, "-m", "voiceguide", "history", "--json"],
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        capture_output=True,
        timeout=60,
        check=True,
    )
    (session,) = json.loads(done.stdout.decode("ascii"))["sessions"]
    assert (session["title"], session["technique_title"]) == (title, "Épaule")


Say = Callable[[str], Callable[[], None]]


@pytest.fixture
def say(monkeypatch: pytest.MonkeyPatch) -> Say:
    """`say(command)`: an action that puts `command` on the session's controls, as the
    listener does when it hears it."""
    from voiceguide import player

    made: list[player.Controls] = []

    class Recorded(player.Controls):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(player, "Controls", Recorded)
    return lambda command: lambda: made[0].put(command, "voice")


def test_voice_commands_and_a_safety_pause_are_counted_and_kept(
    run, device: Device, three: str, say: Say
) -> None:
    """Commands said (put on the player's controls as the listener does) print `heard:` and
    are counted in the row; "it hurts" keeps what came of it: here, carrying on."""
    at = starts(three)
    device.at(at["Second"] + 1.5, say("hurts"))
    device.at(at["Second"] + 30, say("continue"))
    device.at(at["Second"] + 40, say("next"))
    result = play(run, three)
    assert result.status == 0, result.err
    assert [line for line in result.out.splitlines() if line.startswith("heard:")] == [
        "heard: hurts",
        "heard: continue",
        "heard: next",
    ]
    (row,) = rows()
    assert (row["commands"], row["safety"], row["outcome"]) == (3, "continued", "finished")
    shown = run("history")
    assert "finished; it hurt: carried on; 3 said" in shown.out
    listed = json.loads(run("history", "--json").out)["sessions"][0]
    assert (listed["commands"], listed["safety"]) == (3, "continued")


def test_ending_in_the_safety_pause_is_kept(run, device: Device, three: str, say: Say) -> None:
    at = starts(three)
    device.at(at["Second"] + 1.5, say("hurts"))
    device.at(at["Second"] + 20, say("stop"))
    assert play(run, three).status == 0
    (row,) = rows()
    assert (row["commands"], row["safety"], row["outcome"]) == (2, "stopped", "quit")


def test_a_database_of_the_first_schema_gains_the_new_columns(run) -> None:
    """A history written before voice commands is migrated in place: its rows read back with
    no commands and no safety pause."""
    path = history.database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.executescript(history.MIGRATIONS[0])
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (1)")
        connection.execute(
            "INSERT INTO sessions (routine, title, routine_hash, started, ended, techniques, "
            "outcome) VALUES ('floor', 'Floor', 'abc', ?, ?, 2, 'finished')",
            (BASE.isoformat(), (BASE + datetime.timedelta(minutes=9)).isoformat()),
        )
    listed = json.loads(run("history", "--json").out)["sessions"]
    assert [(s["title"], s["commands"], s["safety"]) for s in listed] == [("Floor", 0, None)]
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    assert version == (len(history.MIGRATIONS),)
