"""A picture of a compiled routine: how long each part takes and where the holds are.

One band per section (the opening, each technique, the closing) on a time axis in minutes:
holds, breath windows and rests as bars along the bottom of the band, speech as blocks along
the top, chimes as marks across it, and each side named where it starts. Drawn with matplotlib
(imported only here, and only when a chart is asked for, so `list` and `show` stay fast), on
the Agg canvas: no display, no pyplot state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ExportError, UsageError
from .files import check_not_input, check_output, replacing
from .timeline import Event, Section, Timeline

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
LEFT = 0.17
"""The plot's left edge (a fraction of the width), or further right for a longer label."""
MAX_BANDS = 40
"""Bands in one chart: a routine of more sections draws its first MAX_BANDS - 1 and shares the
last band among the rest, on the same time axis, so every event is still drawn where it
happens and the picture stays readable (at most MAX_HEIGHT_PX tall; 500 bands were 31,000)."""
MAX_HEIGHT_PX = round((MARGINS_IN + ROW_IN * MAX_BANDS) * DPI)
LABEL_CHARS, TITLE_CHARS = 40, 60
"""A band's label (a section's title), and the chart's title, are cut to this many characters,
with an ellipsis: the widest letters still fit."""


def check_target(path: Path, *, force: bool = False, inputs: Iterable[Path] = ()) -> None:
    """Refuse, before any work, a chart we cannot or should not write: as an export would
    (see `files`), and with a suffix other than .png or .svg."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"{path}: a chart is written as {' or '.join(FORMATS)}, "
            f"got {path.suffix or '(no suffix)'!r}"
        )
    check_output(path, force=force)
    check_not_input((path,), inputs, "chart")


def _minutes(ms: int) -> float:
    return ms / 60_000


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "\u2026"


@dataclass(frozen=True, slots=True)
class _Band:
    """One row of the chart: its label and the sections drawn in it."""

    label: str
    sections: tuple[Section, ...]


def _bands(timeline: Timeline) -> list[_Band]:
    sections = timeline.sections
    if len(sections) <= MAX_BANDS:
        return [_Band(_label(s.title, s.duration), (s,)) for s in sections]
    rest = sections[MAX_BANDS - 1 :]
    length = sum(s.duration for s in rest)
    return [
        *(_Band(_label(s.title, s.duration), (s,)) for s in sections[: MAX_BANDS - 1]),
        _Band(f"{len(rest)} more: {_short(rest[0].title, 16)} to the end  {_length(length)}", rest),
    ]


def _label(title: str, ms: int) -> str:
    return f"{_short(title, LABEL_CHARS)}  {_length(ms)}"


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    bands = _bands(timeline)
    rows = len(bands)
    height = MARGINS_IN + ROW_IN * rows
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.subplots_adjust(left=LEFT, right=0.98, top=1 - 0.55 / height, bottom=0.85 / height)
    axes = fig.add_subplot()
    total = _minutes(timeline.duration)
    for i, band in enumerate(bands):
        row = rows - 1 - i  # the first section at the top
        axes.broken_barh(
            [(_minutes(s.start), _minutes(s.duration)) for s in band.sections],
            (row, 0.9),
            facecolors=COLOURS["band"],
            linewidth=0,
        )
        events = [e for s in band.sections for e in s.events]
        _bars(axes, row, (e for e in events if e.kind in ("hold", "breathe", "rest")), INTERVALS)
        _bars(axes, row, (e for e in events if e.kind == "speech"), SPEECH)
        chimes = [_minutes(e.start) for e in events if e.kind == "chime"]
        axes.vlines(chimes, row + 0.04, row + 0.86, colors=COLOURS["chime"], linewidth=0.8)
        if len(band.sections) > 1:
            continue  # a shared band: sides would be written over each other
        side = None
        for e in events:
            if e.side and e.side != side:
                axes.text(_minutes(e.start), row + 0.84, e.side, fontsize=7, va="bottom")
            side = e.side
    axes.set_xlim(0, total * 1.01 or 1)
    axes.set_ylim(-0.1, rows)
    axes.set_yticks([rows - 1 - i + 0.45 for i in range(rows)])
    labels = axes.set_yticklabels([band.label for band in bands], fontsize=8)
    axes.set_xlabel("minutes")
    title = f"{_short(timeline.title, TITLE_CHARS)}  ({_length(timeline.duration)})"
    axes.set_title(title, fontsize=11)
    axes.grid(axis="x", color="#dddddd", linewidth=0.5)
    axes.set_axisbelow(True)
    present = {f"breathe-{e.name}" if e.kind == "breathe" else e.kind for e in timeline.events}
    legend = [
        Patch(color=COLOURS[key], label=label) for key, label in LEGEND.items() if key in present
    ]
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    # the plot starts right of its widest label (tick and padding included), never cutting it
    FigureCanvasAgg(fig)
    widest = max((label.get_window_extent().width for label in labels), default=0.0)
    needed = (widest + 0.25 * DPI) / (WIDTH_IN * DPI)
    if needed > LEFT:
        fig.subplots_adjust(left=needed)
    return fig


def _length(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}:{seconds:02d}"


def write(
    timeline: Timeline, path: Path, *, force: bool = False, inputs: Iterable[Path] = ()
) -> None:
    """Draw the chart into `path` (.png or .svg), the way every output is written
    (`files.replacing`): a failure leaves no half-drawn file, a read-only file needs `force`,
    a file the program reads (`inputs`) is refused."""
    check_target(path, force=force, inputs=inputs)
    fig = figure(timeline)
    try:
        with replacing(path, force=force) as temp:
            fig.savefig(temp, format=path.suffix.lower()[1:], dpi=DPI)
    except OSError as exc:
        raise ExportError(f"{path}: could not write the chart ({exc.strerror or exc})") from exc
