"""Commands that read routines without playing them: list, show, check."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from .. import api
from ..errors import ExitStatus, RoutineError, UsageError
from .app import _clock, _echo_json, _length, _warn, cli
from .options import DETAIL, PACE, RATE, SPOKEN_OPTIONS, run_options


@cli.command("list")
@PACE
@DETAIL
def list_(pace: float | None, detail: str | None) -> None:
    """List the built-in routines and techniques, and your own techniques, with length and
    what each needs. Any of them can be shown, played or exported by name."""
    lines = [  # all made before any is printed: an error then prints nothing else
        "Routines (~ estimated lengths, at the default voice speed):",
        *map(_entry, api.builtin_routines(pace, detail)),
        'Techniques (use = "ID" in a routine file; * marks your own):',
        *map(_entry, api.builtin_techniques(pace, detail)),
    ]
    click.echo("\n".join(lines))


def _entry(item: api.Entry) -> str:
    needs = f"  [needs {', '.join(item.equipment)}]" if item.equipment else ""
    mark = "*" if item.own else " "
    length = _length(item.duration, estimated=True)
    return f"{mark} {item.name:<22} {length:>6}  {item.title}{needs}"


@cli.command()
@click.argument("routine")
@run_options(*SPOKEN_OPTIONS)
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
@click.option(
    "--force", is_flag=True, help="Replace a read-only --chart file (it stays read-only)."
)
def show(
    routine: str,
    options: api.Options,
    as_json: bool,
    estimate: bool,
    source: bool,
    chart: Path | None,
    force: bool,
) -> None:
    """Show the compiled timeline of ROUTINE: time, kind, text, technique.

    ROUTINE is a built-in routine, a technique id (built-in or your own; see 'voiceguide
    list') or a path to a .toml file. Speech lengths are those of the real synthesized clips
    unless --estimate is given.
    """
    if source:
        from ..catalog import source as source_of
        from ..catalog import user_folder

        found = source_of(routine)
        click.echo(f"# {found.kind} {routine}, from {found.path}")
        if found.kind == "technique":
            click.echo(f'# save a changed copy as {user_folder()}/NAME.toml, then use = "NAME"')
        click.echo(found.text, nl=not found.text.endswith("\n"))
        return
    if force and chart is None:
        raise UsageError("--force: nothing to replace without --chart FILE")
    loaded = api.load(routine)
    inputs = api.input_files(loaded) if chart is not None else []
    if chart is not None:
        from .. import chart as charts

        charts.check_target(chart, force=force, inputs=inputs)  # before any synthesis
    timeline = api.compile(loaded, options, estimate_only=estimate)
    _warn(timeline)
    if chart is not None:
        charts.write(timeline, chart, force=force, inputs=inputs)
        click.echo(f"wrote {chart} ({_length(timeline.duration)})")
        return
    if as_json:
        _echo_json(timeline.dumps())
        return
    click.echo(f"{timeline.title}  ({_length(timeline.duration, estimated=estimate)})")
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
@PACE
@DETAIL
def check(files: Sequence[str], rate: int | None, pace: float | None, detail: str | None) -> None:
    """Check routine files; list every problem, then warnings. Exit 0 when none has an error.

    FILES are paths, built-in routine names or technique ids. Warnings (a cue longer than its
    interval, two in-breaths in a row, an unknown {placeholder} or side) are checked at the
    routine's voice speed, or at --rate.
    """
    problems = 0
    options = api.Options(rate=rate, pace=pace, detail=detail)
    for file in files:
        try:
            timeline = api.compile(file, options, estimate_only=True)
        except RoutineError as exc:
            problems += len(exc.problems)
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            continue
        _warn(timeline)
        click.echo(f"{file}: ok, {_length(timeline.duration, estimated=True)}")
    if problems:
        raise SystemExit(ExitStatus.BAD_INPUT)
