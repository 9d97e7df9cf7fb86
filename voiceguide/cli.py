"""The command line: parse, call the library, print. The only place that prints or exits."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import api, streams
from .config import ENGINES, RATE_MAX, RATE_MIN
from .errors import AudioDeviceError, ExitStatus, RoutineError, UsageError, VoiceguideError
from .names import valid
from .timeline import Timeline

if TYPE_CHECKING:
    from rich.progress import TaskID

    from .render import Samples

# We do no linear algebra: OpenBLAS's thread pool would only double numpy's import time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

RATE = click.option(
    "--rate",
    type=click.IntRange(RATE_MIN, RATE_MAX),
    default=None,
    help=f"Voice speed in words per minute ({RATE_MIN}-{RATE_MAX}). Default: the routine's, "
    "your config's, or 150.",
)
VOICE = click.option(
    "--voice",
    default=None,
    help="Voice id, name or language (see 'voiceguide voices'). Default: en-us.",
)

ENGINE = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="Speech engine: natural (the default for English), espeak (fast, 130 languages) or "
    "system (your platform's voices). Default: the routine's, your config's, or natural.",
)

LOUDNESS = click.option(
    "--loudness",
    type=click.FloatRange(-30.0, -12.0),
    default=None,
    help="Integrated loudness in LUFS (-30 to -12; default -16, for phones), true peak at "
    "most -1 dBTP. Play and export use the same.",
)
AMBIENCE = click.option(
    "--ambience",
    metavar="NAME|FILE.wav|off",
    default=None,
    help="A calm bed under the routine that ducks under the voice: brown-noise, drone, a "
    ".wav in the routine's or the config folder, or off. Default: the routine's, your "
    "config's, or off.",
)


def _clock(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}:{rest / 1000:04.1f}"


def _length(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}:{seconds:02d}"


def _warn(timeline: Timeline) -> None:
    for warning in timeline.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voiceguide")
def cli() -> None:
    """Voice-guided mobility routines for a stiff upper back, narrated hands-free.

    Stop at once on sharp or radiating pain, numbness, tingling or weakness.
    """


@cli.command("list")
def list_() -> None:
    """List the built-in routines and techniques, and your own techniques, with length and
    what each needs. Any of them can be shown, played or exported by name."""
    lines = [  # all made before any is printed: an error then prints nothing else
        "Routines (lengths at the default voice speed):",
        *map(_entry, api.builtin_routines()),
        'Techniques (use = "ID" in a routine file; * marks your own):',
        *map(_entry, api.builtin_techniques()),
    ]
    click.echo("\n".join(lines))


def _entry(item: api.Entry) -> str:
    needs = f"  [needs {', '.join(item.equipment)}]" if item.equipment else ""
    mark = "*" if item.own else " "
    return f"{mark} {item.name:<22} {_length(item.duration):>6}  {item.title}{needs}"


@cli.command()
@click.argument("routine")
@RATE
@VOICE
@ENGINE
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.option(
    "--estimate",
    is_flag=True,
    help="Estimate speech lengths from word counts instead of synthesizing (fast).",
)
@click.option(
    "--source",
    is_flag=True,
    help="Print the routine's or technique's TOML as written, to copy and change.",
)
@click.option(
    "--chart",
    type=click.Path(path_type=Path),
    default=None,
    help="Draw the timeline into FILE.png or FILE.svg instead of printing it.",
)
def show(
    routine: str,
    rate: int | None,
    voice: str | None,
    engine: str | None,
    as_json: bool,
    estimate: bool,
    source: bool,
    chart: Path | None,
) -> None:
    """Show the compiled timeline of ROUTINE: time, kind, text, technique.

    ROUTINE is a built-in routine, a technique id (built-in or your own; see 'voiceguide
    list') or a path to a .toml file. Speech lengths are those of the real synthesized clips
    unless --estimate is given.
    """
    if source:
        from .catalog import source as source_of
        from .catalog import user_folder

        found = source_of(routine)
        click.echo(f"# {found.kind} {routine}, from {found.path}")
        if found.kind == "technique":
            click.echo(f'# save a changed copy as {user_folder()}/NAME.toml, then use = "NAME"')
        click.echo(found.text, nl=not found.text.endswith("\n"))
        return
    if chart is not None:
        from . import chart as charts

        charts.check_target(chart)  # before any synthesis
    timeline = api.compile(
        routine, rate=rate, voice=voice, engine_name=engine, estimate_only=estimate
    )
    _warn(timeline)
    if chart is not None:
        charts.write(timeline, chart)
        click.echo(f"wrote {chart} ({_length(timeline.duration)})")
        return
    if as_json:
        click.echo(timeline.dumps())
        return
    click.echo(f"{timeline.title}  ({_length(timeline.duration)})")
    for section in timeline.sections:
        click.echo(f"\n{_clock(section.start):>8}  == {section.title} ==")
        for e in section.events:
            what = (
                e.text
                if e.kind == "speech"
                else e.name
                if e.kind == "chime"
                else (
                    f"{e.duration / 1000:g} s"
                    + (f" {e.name}" if e.kind == "breathe" else "")
                    + (f": {e.text}" if e.kind == "rest" and e.text != "rest" else "")
                )
            )
            side = f" ({e.side})" if e.side else ""
            click.echo(f"{_clock(e.start):>8}  {e.kind:<7} {what}{side}")


@cli.command()
@click.argument("files", nargs=-1, required=True)
@RATE
def check(files: Sequence[str], rate: int | None) -> None:
    """Check routine files; list every problem, then warnings. Exit 0 when none has an error.

    FILES are paths, built-in routine names or technique ids. Warnings (a cue longer than its
    interval, two in-breaths in a row, an unknown {placeholder} or side) are checked at the
    routine's voice speed, or at --rate.
    """
    problems = 0
    for file in files:
        try:
            timeline = api.compile(file, rate=rate, estimate_only=True)
        except RoutineError as exc:
            problems += len(exc.problems)
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            continue
        _warn(timeline)
        click.echo(f"{file}: ok, {_length(timeline.duration)}")
    if problems:
        raise SystemExit(ExitStatus.BAD_INPUT)


@cli.command()
@click.argument("routine")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    help="Audio file to write: .wav, .flac, .ogg or .mp3 (with chapters).",
)
@click.option(
    "--transcript",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a transcript synced to the audio: .vtt, .srt or .lrc.",
)
@RATE
@VOICE
@ENGINE
@LOUDNESS
@AMBIENCE
@click.option("--force", is_flag=True, help="Replace a read-only file (it stays read-only).")
def export(
    routine: str,
    output: Path,
    transcript: Path | None,
    rate: int | None,
    voice: str | None,
    engine: str | None,
    loudness: float | None,
    ambience: str | None,
    force: bool,
) -> None:
    """Export ROUTINE to an audio file to take along on a phone.

    ROUTINE is a built-in name (see 'voiceguide list') or a path to a .toml file. A file
    replaced keeps its permissions; a symlink is written through to its target.
    """
    with _progress() as progress:
        timeline = api.export(
            routine,
            output,
            rate=rate,
            voice=voice,
            engine_name=engine,
            transcript=transcript,
            progress=progress,
            force=force,
            loudness=loudness,
            ambience=ambience,
        )
    _warn(timeline)
    click.echo(
        f"wrote {output} ({_length(timeline.duration)})"
        + (f" and {transcript}" if transcript else "")
    )


@cli.command()
@click.argument("routine", default="upper-back")
@RATE
@VOICE
@ENGINE
@LOUDNESS
@AMBIENCE
@click.option("--yes", is_flag=True, help="Skip the safety questions (you have read them).")
@click.option(
    "--else-export",
    type=click.Path(path_type=Path),
    default=None,
    help="With no sound device, export to this file (and a .vtt transcript) instead.",
)
def play(
    routine: str,
    rate: int | None,
    voice: str | None,
    engine: str | None,
    loudness: float | None,
    ambience: str | None,
    yes: bool,
    else_export: Path | None,
) -> None:
    """Play ROUTINE aloud (default: upper-back), hands-free.

    ROUTINE is a built-in routine, a technique id (see 'voiceguide list') or a path to a
    .toml file. On a terminal: space pauses or resumes, n skips to the next technique, p
    starts the technique again (twice: the one before), + adds ten seconds to a hold, q
    stops. Each is confirmed aloud.
    """
    from . import terminal

    with contextlib.ExitStack() as stack:
        try:
            player = stack.enter_context(
                api.playing(routine, rate=rate, voice=voice, engine_name=engine, loudness=loudness)
            )
        except AudioDeviceError as exc:
            if else_export is None:
                raise AudioDeviceError(
                    f"{exc}; to listen elsewhere, export it: "
                    f"voiceguide export {routine} -o FILE.mp3"
                ) from exc
            click.echo(f"{exc}; exporting instead", err=True)
            _export_instead(routine, else_export, rate, voice, engine, loudness, ambience)
            return
        _warn(api.compile(routine, rate=rate, voice=voice, estimate_only=True))  # fast
        if not yes:  # asked only when there is something to play on
            _screen()
        if _interactive():  # the opening is being synthesized meanwhile
            click.echo(
                f"{_briefing(routine)} Keys: space pause, n next, "
                "p again, + ten more seconds, q stop."
            )
            click.prompt("Press Enter to begin", default="", show_default=False, prompt_suffix="")
        read_key = stack.enter_context(terminal.keys())
        stack.callback(terminal.end_line)
        player.run(read_key, terminal.status_printer())


def _briefing(spec: str) -> str:
    """What to fetch and how to settle, for the first technique's posture."""
    from .catalog import load_routine
    from .phrases import briefing

    return briefing(load_routine(spec))


def _export_instead(
    routine: str,
    audio: Path,
    rate: int | None,
    voice: str | None,
    engine: str | None,
    loudness: float | None = None,
    ambience: str | None = None,
) -> None:
    transcript = audio.with_suffix(".vtt")
    with _progress() as progress:
        api.export(
            routine,
            audio,
            rate=rate,
            voice=voice,
            engine_name=engine,
            transcript=transcript,
            progress=progress,
            loudness=loudness,
            ambience=ambience,
        )
    click.echo(f"wrote {audio.resolve()} and {transcript.name}: play it on any device")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _screen() -> None:
    """The guide's screening questions, asked once; any yes stops here."""
    from .config import read_config, remember
    from .screening import ADVICE, QUESTIONS, reasons

    if read_config().get("screened") is True:
        return
    if not _interactive():
        raise UsageError(
            "before the first play, voiceguide asks a few safety questions, which needs a "
            "terminal; run it in one, or pass --yes if none of the contraindications in the "
            "README applies to you"
        )
    click.echo("A few safety questions first (asked once).")
    answers = {q: click.confirm(q, default=None) for q, _ in QUESTIONS}
    why = reasons(answers)
    if why:
        for line in why:
            click.echo(f"- {line}")
        click.echo(ADVICE)
        raise SystemExit(ExitStatus.ERROR)
    try:
        remember("screened", True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        click.echo(
            f"warning: could not save your answers ({reason}); they will be asked again next time",
            err=True,
        )


@cli.command("sounds")
@click.argument("name", required=False)
@click.option("--play", "play_it", is_flag=True, help="Play the sound NAME.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the sound NAME to a .wav, .flac, .ogg or .mp3 file.",
)
def sounds_(name: str | None, play_it: bool, output: Path | None) -> None:
    """List the sounds a routine can use and what each tells you; play or export one.

    A routine file names them with { chime = "NAME" }; holds, breaths, sides and the start
    and end of each technique use them on their own.
    """
    from . import sounds

    if name is None:
        if play_it or output:
            raise UsageError("name the sound to play or export, e.g. voiceguide sounds hold-end")
        for sound, meaning in sounds.NAMES.items():
            click.echo(f"{sound:<16} {meaning}")
        return
    if name not in sounds.NAMES:
        raise UsageError(f"no sound {name!r}{valid(name, sounds.NAMES, 'sounds')}")
    if output is not None:
        _export_sound(name, output)
        click.echo(f"wrote {output}")
    if play_it:
        _play_sound(name)
    if not (play_it or output):
        click.echo(f"{name}: {sounds.NAMES[name]}")


def _samples(name: str) -> Samples:
    import numpy as np

    from . import sounds

    return np.frombuffer(sounds.load(name).pcm, dtype="<i2").copy()


def _play_sound(name: str) -> None:
    from .sink import SimpleaudioSink

    sink = SimpleaudioSink()
    sink.check()
    playback = sink.play(_samples(name))
    while playback.is_playing():
        sink.clock.sleep(0.02)


def _export_sound(name: str, output: Path) -> None:
    """One sound, written the way routines are exported: atomic, tagged, any format."""
    from . import export as exporter
    from .clip import SAMPLE_RATE
    from .timeline import Event, Section, samples_to_ms

    pcm = _samples(name)
    ms = samples_to_ms(len(pcm), SAMPLE_RATE)
    event = Event(0, ms, "chime", name=name)
    timeline = Timeline(name, (Section(name, 0, ms, (event,)),))
    exporter.export(timeline, [[pcm]], output)


@cli.command()
@click.option("--engine", type=click.Choice(ENGINES), default=None, help="Only this engine's.")
def voices(engine: str | None) -> None:
    """List the voices --voice accepts, engine by engine: id, name and languages."""
    from .speech import list_voices, unavailable

    for name in [engine] if engine else ENGINES:
        reason = unavailable(name)
        if reason:
            click.echo(f"{name}: not available here ({reason})")
            continue
        click.echo(f"{name}:")
        for v in list_voices(name):
            click.echo(f"  {v.id:<28} {v.name:<44} {', '.join(v.languages)}")


@cli.group()
def cache() -> None:
    """Manage the cache of synthesized speech clips."""


@cache.command("clear")
def cache_clear() -> None:
    """Delete every cached clip."""
    from .cache import ClipCache

    store = ClipCache()
    click.echo(f"removed {store.clear()} clip(s) from {store.directory}")


@cache.command("info")
def cache_info() -> None:
    """Show where the cache is, its size, its limit (config key cache_limit_mb) and entries.
    Past the limit, the least recently used clips are removed."""
    from .cache import ClipCache

    info = ClipCache().info()
    click.echo(f"location: {info.directory}")
    click.echo(f"size: {info.bytes / 1e6:.1f} MB in {info.entries} clip(s)")
    click.echo(f"limit: {info.limit_bytes / 1e6:g} MB (config key cache_limit_mb)")


@contextlib.contextmanager
def _progress() -> Iterator[api.Progress | None]:
    """A progress bar on a terminal; nothing at all otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    labels = {"speech": "Synthesizing speech", "audio": "Writing audio"}
    with Progress(transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


class _Warnings(logging.Handler):
    """What the library works around (an unwritable cache) and logs, as one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM, and SIGHUP (the terminal was closed), unwind like Ctrl-C, so temporary files
    are removed and the sound stops on the way out."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; turn every error into one line per problem and an exit status."""
    for name in ("SIGTERM", "SIGHUP"):  # no SIGHUP on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    library = logging.getLogger("voiceguide")
    if not any(isinstance(h, _Warnings) for h in library.handlers):
        library.addHandler(_Warnings())
        library.propagate = False
    with streams.guarded() as (_, err):
        status = _run(argv, err)
    sys.exit(status)


def _run(argv: Sequence[str] | None, err: streams.Guarded) -> int:
    def report(lines: Iterable[str]) -> None:
        """On standard error; if that cannot be written, on standard output; else nowhere
        (the exit status still says it)."""
        text = "".join(f"{line}\n" for line in lines)
        for stream in (sys.stderr, sys.stdout):
            with contextlib.suppress(streams.StreamError):
                stream.write(text)
                stream.flush()
                if not err.failed or stream is sys.stdout:
                    return

    try:
        try:
            status = cli.main(args=argv, prog_name="voiceguide", standalone_mode=False)
        except SystemExit as exc:  # `check` and the safety questions end with a status
            status = exc.code
        sys.stdout.flush()  # a full disk shows here, as an error, not as a traceback at exit
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        report(shown.getvalue().splitlines())
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        report(["interrupted"])
        return ExitStatus.INTERRUPTED
    except streams.StreamError as exc:
        if not exc.reader_gone:  # `| head -1` took what it wanted: end quietly
            report([f"error: {exc}"])
        return exc.exit_code
    except VoiceguideError as exc:
        report(f"error: {line}" for line in str(exc).splitlines())
        return exc.exit_code
    return status if isinstance(status, int) else 0
