"""A picture of a compiled routine: how long each part takes and where the holds are.

One band per section (the opening, each technique, the closing) on a time axis in minutes:
holds, breath windows and rests as bars along the bottom of the band, speech as blocks along
the top, chimes as marks across it, and each side named where it starts. Drawn with matplotlib
(imported only here, and only when a chart is asked for, so `list` and `show` stay fast), on
the Agg canvas: no display, no pyplot state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ExportError, UsageError
from .timeline import Event, Timeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg")
COLOURS = {
    "hold": "#d1495b",
    "breathe-in": "#2e86de",
    "breathe-out": "#10ac84",
    "breathe-hold": "#8e44ad",
    "rest": "#c8d6e5",
    "speech": "#576574",
    "chime": "#ee8f00",
    "band": "#f5f6fa",
}
"""One colour per kind of event; tests look for them in the picture."""

LEGEND = {
    "speech": "speech",
    "hold": "hold",
    "breathe-in": "breathe in",
    "breathe-out": "breathe out",
    "breathe-hold": "hold the breath",
    "rest": "rest, getting into position",
    "chime": "chime",
}

INTERVALS = (0.08, 0.38)
"""Where holds, breaths and rests sit in a band of height 1: (bottom, height)."""
SPEECH = (0.52, 0.3)
"""Where speech blocks sit in a band."""
WIDTH_IN, DPI = 14.0, 100
ROW_IN, MARGINS_IN = 0.62, 1.5


def check_target(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"{path}: a chart is written as {' or '.join(FORMATS)}, "
            f"got {path.suffix or '(no suffix)'!r}"
        )
    if not path.parent.is_dir():
        raise UsageError(f"{path}: folder {str(path.parent)!r} does not exist")


def _minutes(ms: int) -> float:
    return ms / 60_000


def _bars(axes: Axes, row: float, events: Iterable[Event], place: tuple[float, float]) -> None:
    """Bars for each event, coloured by kind (breaths by direction), in one call per colour."""
    by_colour: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        key = f"breathe-{e.name}" if e.kind == "breathe" else e.kind
        by_colour.setdefault(COLOURS[key], []).append((_minutes(e.start), _minutes(e.duration)))
    for colour, spans in by_colour.items():
        axes.broken_barh(spans, (row + place[0], place[1]), facecolors=colour, linewidth=0)


def figure(timeline: Timeline) -> Figure:
    """The chart as a matplotlib Figure, laid out the same way every time (no tight bbox), so
    a point in time maps to the same pixel in the saved file."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    sections = timeline.sections
    rows = len(sections)
    fig = Figure(figsize=(WIDTH_IN, MARGINS_IN + ROW_IN * rows), dpi=DPI)
    height = MARGINS_IN + ROW_IN * rows
    fig.subplots_adjust(left=0.17, right=0.98, top=1 - 0.55 / height, bottom=0.85 / height)
    axes = fig.add_subplot()
    total = _minutes(timeline.duration)
    for i, section in enumerate(sections):
        row = rows - 1 - i  # the first section at the top
        axes.broken_barh(
            [(_minutes(section.start), _minutes(section.duration))],
            (row, 0.9),
            facecolors=COLOURS["band"],
            linewidth=0,
        )
        events = section.events
        _bars(axes, row, (e for e in events if e.kind in ("hold", "breathe", "rest")), INTERVALS)
        _bars(axes, row, (e for e in events if e.kind == "speech"), SPEECH)
        chimes = [_minutes(e.start) for e in events if e.kind == "chime"]
        axes.vlines(chimes, row + 0.04, row + 0.86, colors=COLOURS["chime"], linewidth=0.8)
        side = None
        for e in events:
            if e.side and e.side != side:
                axes.text(_minutes(e.start), row + 0.84, e.side, fontsize=7, va="bottom")
            side = e.side
    axes.set_xlim(0, total * 1.01 or 1)
    axes.set_ylim(-0.1, rows)
    axes.set_yticks([rows - 1 - i + 0.45 for i in range(rows)])
    axes.set_yticklabels([f"{s.title}  {_length(s.duration)}" for s in sections], fontsize=8)
    axes.set_xlabel("minutes")
    axes.set_title(f"{timeline.title}  ({_length(timeline.duration)})", fontsize=11)
    axes.grid(axis="x", color="#dddddd", linewidth=0.5)
    axes.set_axisbelow(True)
    present = {f"breathe-{e.name}" if e.kind == "breathe" else e.kind for e in timeline.events}
    legend = [
        Patch(color=COLOURS[key], label=label) for key, label in LEGEND.items() if key in present
    ]
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    return fig


def _length(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}:{seconds:02d}"


def write(timeline: Timeline, path: Path) -> None:
    """Draw the chart into `path` (.png or .svg); written beside it and renamed when done, so
    a failure leaves no half-drawn file."""
    check_target(path)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(timeline)
    FigureCanvasAgg(fig)
    temp = path.with_name(f".{path.name}.part")
    try:
        fig.savefig(temp, format=path.suffix.lower()[1:], dpi=DPI)
        os.replace(temp, path)
    except OSError as exc:
        raise ExportError(f"{path}: could not write the chart ({exc.strerror or exc})") from exc
    finally:
        temp.unlink(missing_ok=True)
