"""The safety questions are renewed: clean answers are kept with their day and asked again
after 90 days, `voiceguide screen` retakes them, `--yes` skips them. Driven through the real
CLI, answering on standard input, with the day moved."""

from __future__ import annotations

import datetime
import io
import tomllib

import pytest

from voiceguide import cli, screening
from voiceguide.config import config_path, read_config

from .conftest import ROUTINES

SHORT = str(ROUTINES / "short.toml")
DAY = datetime.date(2026, 3, 1)
NO = "n\n" * len(screening.QUESTIONS)


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch) -> list[datetime.date]:
    """The day as voiceguide sees it: change `day[0]` to move the clock."""
    now = [DAY]
    monkeypatch.setattr(screening, "today", lambda: now[0])
    return now


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, device: list[str]):
    """On a terminal, with a sound device that plays nothing: type(text) sets what standard
    input holds for the next run."""
    monkeypatch.setattr(cli.session, "_interactive", lambda: True)

    def type_(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return type_


def write_config(text: str) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(text)


def asked(result) -> bool:
    return "safety questions" in result.out


def test_clean_answers_are_kept_with_their_day(run, day, terminal, device) -> None:
    terminal(NO + "\n")  # and Enter to begin
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert asked(result) and device == [SHORT, "run"]
    assert read_config() == {"screened": True, "screened_on": DAY}
    assert "screened_on = 2026-03-01" in config_path().read_text()


@pytest.mark.parametrize(
    ("age", "again"),
    [(0, False), (1, False), (89, False), (90, True), (91, True), (400, True), (-1, True)],
)
def test_a_clean_answer_is_never_older_than_the_rule_allows(
    run, day, terminal, device, age: int, again: bool
) -> None:
    """Answers given `age` days ago (a negative age: dated after today, the clock set back)."""
    write_config(f"screened = true\nscreened_on = {DAY - datetime.timedelta(days=age)}\n")
    terminal((NO if again else "") + "\n")
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert asked(result) == again
    assert device == [SHORT, "run"]
    if again:
        answered = DAY - datetime.timedelta(days=age)
        assert f"last answered on {answered}, and asked every 90 days" in result.out
        assert read_config()["screened_on"] == DAY, "renewed today"


def test_the_clock_moving_on_asks_again(run, day, terminal, device) -> None:
    terminal(NO + "\n")
    assert asked(run("play", SHORT))
    day[0] = DAY + datetime.timedelta(days=89)
    terminal("\n")
    assert not asked(run("play", SHORT))
    day[0] = DAY + datetime.timedelta(days=90)
    terminal(NO + "\n")
    assert asked(run("play", SHORT))
    assert read_config()["screened_on"] == day[0]
    assert device == [SHORT, "run"] * 3


@pytest.mark.parametrize(
    "config",
    [
        "screened = true\n",  # as written before answers were dated
        'screened = true\nscreened_on = "2026-03-01"\n',  # text, not a date
        "screened = true\nscreened_on = 2026-03-01T08:00:00\n",  # a time, not a day
        "screened = false\nscreened_on = 2026-03-01\n",
    ],
)
def test_undated_or_withdrawn_answers_are_asked_again(run, day, terminal, config: str) -> None:
    write_config(config)
    terminal(NO + "\n")
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert asked(result)
    assert read_config() == {"screened": True, "screened_on": DAY}


def test_yes_skips_the_questions_and_writes_nothing(run, day, device) -> None:
    write_config("screened = true\nscreened_on = 2025-01-01  # long ago\n")
    result = run("play", SHORT, "--yes")
    assert result.status == 0 and not asked(result) and device == [SHORT, "run"]
    assert config_path().read_text() == "screened = true\nscreened_on = 2025-01-01  # long ago\n"


def test_screen_retakes_the_questions_any_time(run, day, terminal) -> None:
    write_config("rate = 130  # mine\nscreened = true\nscreened_on = 2026-02-27\n")
    terminal(NO)
    result = run("screen")
    assert result.status == 0, result.err
    assert result.out.count("?") == len(screening.QUESTIONS)
    assert "Play asks again from 2026-05-30" in result.out
    text = config_path().read_text()
    assert text == "rate = 130  # mine\nscreened = true\nscreened_on = 2026-03-01\n"


def test_a_yes_in_screen_withdraws_earlier_answers(run, day, terminal, device) -> None:
    write_config("screened = true\nscreened_on = 2026-02-27\n")
    terminal("n\nn\nn\ny\nn\nn\n")  # a recent fall
    result = run("screen")
    assert result.status == 1
    assert "fall or an accident" in result.out and "physical therapist" in result.out
    assert tomllib.loads(config_path().read_text())["screened"] is False
    terminal("\n")
    result = run("play", SHORT)
    assert asked(result) and device == [SHORT], "asked again, and not played"


def test_screen_needs_a_terminal(run, day) -> None:
    result = run("screen")
    assert result.status == 2
    assert result.err == (
        "error: the safety questions need a terminal; run voiceguide screen in one\n"
    )


def test_a_yes_decides_and_the_questions_stop(run, day, terminal) -> None:
    terminal("n\ny\n")  # a spinal infection: nothing after it is asked
    result = run("screen")
    assert result.status == 1
    assert result.out.count("?") == 2, result.out
    assert screening.QUESTIONS[2][0] not in result.out
    assert "infected spine" in result.out and "physical therapist" in result.out


def test_q_at_press_enter_quits_before_the_start(run, day, terminal, device) -> None:
    terminal(NO + "q\n")
    result = run("play", SHORT)
    assert result.status == 0, result.err
    assert device == [SHORT], "not played"
    assert result.out.rstrip().endswith("Not started.")
    assert read_config()["screened"] is True, "the answers given still count"


def test_a_read_only_config_is_left_alone_and_screen_says_no_more(run, day, terminal) -> None:
    """As an export refuses a read-only file, so do the answers; and nothing then promises
    the date they would have been good until."""
    write_config("rate = 130\n")
    config_path().chmod(0o444)
    terminal(NO)
    result = run("screen")
    assert result.status == 0
    assert result.err == (
        f"warning: could not save your answers ({config_path()} is read-only); they will be "
        "asked again next time\n"
    )
    assert "Play asks again from" not in result.out and result.out.endswith("Thank you.\n")
    assert config_path().read_text() == "rate = 130\n"
    assert config_path().stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_crlf_line_endings_are_kept(run, day, terminal, bom: str) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_bytes(f"{bom}# mine\r\nrate = 130\r\n[extra]\r\nx = 1\r\n".encode())
    terminal(NO)
    assert run("screen").status == 0
    data = config_path().read_bytes()
    assert data.startswith(bom.encode() + b"# mine\r\nrate = 130\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") >= 6, data
    assert read_config()["screened_on"] == DAY and read_config()["extra"] == {"x": 1}
