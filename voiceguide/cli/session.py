"""Commands that run a routine (export, play), its history, and the safety questions."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from .. import api
from ..errors import AudioDeviceError, ExitStatus, UsageError
from .app import _echo_json, _length, _progress, _warn, cli
from .options import LISTEN, MIC, RUN_OPTIONS, run_options


@cli.command()
@click.argument("routine")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    help="Audio file to write: .wav, .flac, .ogg, .mp3, or .m4a/.m4b (AAC with a cover); all "
    "but .wav with chapters.",
)
@click.option(
    "--transcript",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a transcript synced to the audio: .vtt, .srt or .lrc.",
)
@run_options()
@click.option("--force", is_flag=True, help="Replace a read-only file (it stays read-only).")
def export(
    routine: str, output: Path, transcript: Path | None, options: api.Options, force: bool
) -> None:
    """Export ROUTINE to an audio file to take along on a phone.

    ROUTINE is a built-in name (see 'voiceguide list') or a path to a .toml file. A file
    replaced keeps its permissions; a symlink is written through to its target.
    """
    with _progress() as progress:
        timeline = api.export(
            routine,
            output,
            options,
            transcript=transcript,
            progress=progress,
            force=force,
        )
    _warn(timeline)
    click.echo(
        f"wrote {output} ({_length(timeline.duration)})"
        + (f" and {transcript}" if transcript else "")
    )


@cli.command()
@click.argument("routine", required=False)
@run_options(*RUN_OPTIONS, LISTEN, MIC)
@click.option("--yes", is_flag=True, help="Skip the safety questions (you have read them).")
@click.option(
    "--resume",
    is_flag=True,
    help="Carry on the last session (of ROUTINE, if given) that did not finish, from the start "
    "of the technique where it stopped.",
)
@click.option(
    "--else-export",
    type=click.Path(path_type=Path),
    default=None,
    help="With no sound device, export to this file (and a .vtt transcript) instead.",
)
def play(
    routine: str | None, options: api.Options, yes: bool, resume: bool, else_export: Path | None
) -> None:
    """Play ROUTINE aloud (default: upper-back), hands-free.

    ROUTINE is a built-in routine, a technique id (see 'voiceguide list') or a path to a
    .toml file. On a terminal: space pauses or resumes, n skips to the next technique, p
    starts the technique again (twice: the one before), + adds ten seconds to a hold, q
    stops. Each is confirmed aloud. With --listen, say the same in the quiet: pause,
    continue, next, back, more time, stop (twice), or "it hurts" for a safety pause. Every
    session is kept in the history ('voiceguide history').
    """
    from .. import terminal

    start_at: int | None = None
    if resume:
        from ..session import resume_point, still_here

        last = resume_point(routine)
        routine, start_at = last.routine, last.start_at
        engine, voice = options.engine or last.engine, options.voice or last.voice
        if options.voice is None:  # the recorded voice: is it still here?
            voice = still_here(engine, voice)
        options = replace(
            options,
            rate=options.rate or last.rate,
            voice=voice,
            engine=engine,
            pace=options.pace or last.pace,
            detail=options.detail or last.detail,
        )
    routine = routine or "upper-back"
    quit_ = False
    with contextlib.ExitStack() as stack:
        try:
            player = stack.enter_context(api.playing(routine, options, start_at=start_at))
        except AudioDeviceError as exc:
            if else_export is None:
                how = (
                    f"voiceguide play {routine} --resume --else-export FILE.mp3"
                    if start_at is not None  # export alone would start from the beginning
                    else f"voiceguide export {routine} -o FILE.mp3"
                )
                raise AudioDeviceError(f"{exc}; to listen elsewhere, export it: {how}") from exc
            where = f", from technique {start_at}" if start_at is not None else ""
            click.echo(f"{exc}; exporting instead{where}", err=True)
            _export_instead(routine, else_export, options, start_at)
            return
        _warn(api.compile(routine, options, estimate_only=True))
        if not yes:  # asked only when there is something to play on
            _screen()
        if _interactive():  # the opening is being synthesized meanwhile
            click.echo(
                f"{_briefing(routine, start_at)} Keys: space pause, n next, "
                "p again, + ten more seconds, q stop."
            )
            if player.quiet is not None:
                click.echo(VOICE_HELP)
            begin = click.prompt(
                "Press Enter to begin, or q to quit",
                default="",
                show_default=False,
                prompt_suffix="",
            )
            if begin.strip().lower() == "q":
                click.echo("Not started.")
                return
        read_key = stack.enter_context(terminal.keys())
        stack.callback(terminal.end_line)
        status = terminal.StatusPrinter()
        player.on_control.append(
            lambda control, source: status.say(f"heard: {control}") if source == "voice" else None
        )
        player.run(read_key, status)
        quit_ = player.quitting
    if quit_:
        _how_to_resume()


VOICE_HELP = (
    "Listening in the quiet (never while the guide speaks): say pause, continue, next, back, "
    'more time, stop (twice to end), or "it hurts" for a safety pause.'
)


def _export_instead(routine: str, audio: Path, options: api.Options, start_at: int | None) -> None:
    """What play would have played, from where it would have started (--resume), to a file:
    at the detail play would have had (full the first time and after a long break)."""
    if options.detail is None:
        loaded = api.load(routine)
        configured = api.settings_for(loaded).detail
        options = replace(options, detail=api.session_detail(routine, loaded, configured))
    transcript = audio.with_suffix(".vtt")
    with _progress() as progress:
        api.export(
            routine,
            audio,
            options,
            transcript=transcript,
            progress=progress,
            start_at=start_at,
        )
    click.echo(f"wrote {audio.resolve()} and {transcript.name}: play it on any device")


def _how_to_resume() -> None:
    """After q: where it stopped, and the command that carries on from there."""
    from ..history import HistoryError, resume_point
    from ..session import stopped_line

    try:
        last = resume_point()
    except HistoryError:
        return  # said as a warning when the session started
    if last is not None and last.outcome == "quit":
        click.echo(stopped_line(last))


@cli.command("history")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.option(
    "-n", "--limit", type=click.IntRange(1, 10_000), default=20, help="Sessions listed (20)."
)
def history_(as_json: bool, limit: int) -> None:
    """List recent sessions: date, routine, minutes, how each ended; total minutes and the
    current streak of days in a row with a session."""
    import json

    from .. import history

    summary = history.summary(limit)
    if as_json:
        _echo_json(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(summary.table()))


def _briefing(spec: str, start_at: int | None = None) -> str:
    """What to fetch and how to settle, for the posture of the technique play starts with."""
    from ..catalog import load_routine
    from ..phrases import briefing

    return briefing(load_routine(spec), start_at)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _screen() -> None:
    """The guide's screening questions, when no clean answers of the last 90 days are on
    record; any yes stops here."""
    from .. import screening
    from ..config import read_config

    config = read_config()
    if not screening.due(config, screening.today()):
        return
    if not _interactive():
        raise UsageError(
            "before play, voiceguide asks a few safety questions every "
            f"{screening.RENEW_DAYS} days, which needs a terminal; run it in one, or pass --yes "
            "if none of the contraindications in the README applies to you"
        )
    when = screening.answered_on(config)
    if when is None:
        click.echo(f"A few safety questions first (asked every {screening.RENEW_DAYS} days).")
    else:
        click.echo(
            f"The safety questions again: last answered on {when.isoformat()}, and asked "
            f"every {screening.RENEW_DAYS} days."
        )
    _ask_safety_questions()


def _ask_safety_questions() -> bool:
    """Ask the questions until one is answered yes (that one decides); all no: remembered
    with today's date, and whether that could be written; any yes: why, what to do, any
    earlier clean answers withdrawn, and exit status 1."""
    from .. import screening
    from ..config import config_path, read_config, remember, remember_all

    answers: dict[str, bool] = {}
    for question, _ in screening.QUESTIONS:
        answers[question] = click.confirm(question, default=None)
        if answers[question]:
            break
    why = screening.reasons(answers)
    if why:
        for line in why:
            click.echo(f"- {line}")
        click.echo(screening.ADVICE)
        if read_config().get("screened") is True:
            _save(
                lambda: remember("screened", False),
                "could not withdraw your earlier answers ({}); set screened = false in "
                f"{config_path()} before you play",
            )
        raise SystemExit(ExitStatus.ERROR)
    return _save(
        lambda: remember_all(screening.clean(screening.today())),
        "could not save your answers ({}); they will be asked again next time",
    )


def _save(write: Callable[[], None], warning: str) -> bool:
    """Write to the config file; if it cannot be written, one warning (its reason in {})."""
    try:
        write()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        click.echo("warning: " + warning.replace("{}", reason, 1), err=True)
        return False
    return True


@cli.command()
def screen() -> None:
    """Answer the safety questions again, now (play asks them every 90 days).

    All no: the answers are kept with today's date. Any yes: why not to go on, and play asks
    again next time.
    """
    from .. import screening

    if not _interactive():
        raise UsageError("the safety questions need a terminal; run voiceguide screen in one")
    if not _ask_safety_questions():
        click.echo("Thank you.")  # the warning said when they are asked again
        return
    until = screening.renewal(screening.today())
    click.echo(f"Thank you. Play asks again from {until.isoformat()}, or after voiceguide screen.")
