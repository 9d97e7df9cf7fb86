"""The group every command belongs to, the helpers they share, and `main`: every error one
line per problem and an exit status."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import click

from .. import api, notices, streams
from ..errors import ExitStatus, Terminated, VoiceguideError
from ..timeline import Timeline, length_text

if TYPE_CHECKING:
    from rich.progress import TaskID

# We do no linear algebra: OpenBLAS's thread pool would only double numpy's import time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voiceguide")
def cli() -> None:
    """Voice-guided mobility routines for a stiff upper back, narrated hands-free.

    Stop at once on sharp or radiating pain, numbness, tingling or weakness.
    """


def _clock(ms: int) -> str:
    """m:ss.s, rounded to the tenth before it is split (59.96 s is 1:00.0, never 0:60.0)."""
    minutes, tenths = divmod(round(ms / 100), 600)
    return f"{minutes}:{tenths // 10:02d}.{tenths % 10}"


def _length(ms: int, *, estimated: bool = False) -> str:
    return length_text(ms, estimated=estimated)


def _echo_json(text: str) -> None:
    """JSON on standard output, exact whatever its encoding (PYTHONIOENCODING=ascii)."""
    click.echo(streams.json_for(text, sys.stdout.encoding or "utf-8"))


def _warn(timeline: Timeline) -> None:
    for warning in timeline.warnings:
        click.echo(f"warning: {warning}", err=True)


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
    raise Terminated(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; turn every error into one line per problem and an exit status."""
    for name in ("SIGTERM", "SIGHUP"):  # no SIGHUP on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    library = logging.getLogger("voiceguide")
    if not any(isinstance(h, _Warnings) for h in library.handlers):
        library.addHandler(_Warnings())
        library.propagate = False
    notices.new_run()  # a command's warnings are its own, whatever ran before in this process
    with streams.guarded() as (_, err):
        status = _run(argv, err)
    sys.exit(status)


def console() -> None:
    """The `voiceguide` command: `main`, and when sound stopped at once is still draining
    (Ctrl-C, an error), the process ends without the interpreter's teardown, which cuts the
    sound at once and cannot crash under simpleaudio's thread (sink._DRAINING). So does
    `serve` stopped while its worker makes an export: tearing down under the encoder's
    thread would only add noise (native objects reported leaked)."""
    try:
        main()
    except SystemExit as exc:
        sink = sys.modules.get("voiceguide.sink")  # not imported: nothing was played
        exports = sys.modules.get("voiceguide.serve.exports")  # not imported: nothing served
        if (sink is not None and sink.still_sounding()) or (
            exports is not None and exports.making()
        ):
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        raise


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
    except click.UsageError as exc:  # one line, as every other error: the help is named
        where = exc.ctx.command_path if exc.ctx is not None else "voiceguide"
        report([f"error: {exc.format_message().rstrip('.')} (see '{where} --help')"])
        return exc.exit_code
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
