"""`show --chart`: the timeline drawn as PNG and SVG, checked by reading the files back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api, chart
from voiceguide.timeline import Event, Timeline


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255


def pixel_of(timeline: Timeline, event: Event, band: tuple[float, float]) -> tuple[int, int]:
    """(row, column) in the saved PNG of the middle of `event`'s bar, from the figure's own
    transform: the chart is laid out the same way every time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = chart.figure(timeline)
    FigureCanvasAgg(fig)
    axes = fig.axes[0]
    rows = len(timeline.sections)
    index = next(i for i, s in enumerate(timeline.sections) if event in s.events)
    y = rows - 1 - index + band[0] + band[1] / 2
    x = (event.start + event.duration / 2) / 60_000
    px, py = axes.transData.transform((x, y))
    height = fig.get_figheight() * fig.dpi
    return round(height - py), round(px)


def test_the_png_shows_holds_and_breaths_in_their_colours(run, tmp_path: Path) -> None:
    out = tmp_path / "desk.png"
    result = run("show", "desk-break", "--estimate", "--chart", str(out))
    assert result.status == 0, result.err
    assert result.out.startswith(f"wrote {out} (")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    from matplotlib.image import imread

    image = imread(out)[:, :, :3]
    assert image.shape[1] == chart.WIDTH_IN * chart.DPI
    timeline = api.compile("desk-break", estimate_only=True)
    events = timeline.events
    hold = next(e for e in events if e.kind == "hold")
    breathe_in = next(e for e in events if e.kind == "breathe" and e.name == "in")
    breathe_out = next(e for e in events if e.kind == "breathe" and e.name == "out")
    for event, colour in (
        (hold, "hold"),
        (breathe_in, "breathe-in"),
        (breathe_out, "breathe-out"),
    ):
        row, column = pixel_of(timeline, event, chart.INTERVALS)
        assert np.allclose(image[row, column], hex_rgb(chart.COLOURS[colour]), atol=0.02), colour
    speech = next(e for e in events if e.kind == "speech" and e.duration > 3000)
    row, column = pixel_of(timeline, speech, chart.SPEECH)
    assert np.allclose(image[row, column], hex_rgb(chart.COLOURS["speech"]), atol=0.02)
    row, column = pixel_of(timeline, hold, (chart.SPEECH[0] + 0.9, 0))  # above the band
    assert not np.allclose(image[row, column], hex_rgb(chart.COLOURS["hold"]), atol=0.1)


def test_the_svg_is_real_svg_with_each_kind_in_its_colour(run, tmp_path: Path) -> None:
    out = tmp_path / "floor.svg"
    assert run("show", "upper-back", "--estimate", "--chart", str(out)).status == 0
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert out.stat().st_size > 20_000
    text = out.read_text()
    fills = {m.lower() for m in re.findall(r"fill:\s*(#[0-9a-fA-F]{6})", text)}
    for kind in ("hold", "breathe-in", "breathe-out", "rest", "speech"):
        assert chart.COLOURS[kind] in fills, kind
    assert chart.COLOURS["breathe-hold"] not in fills, "upper-back never holds the breath"
    strokes = {m.lower() for m in re.findall(r"stroke:\s*(#[0-9a-fA-F]{6})", text)}
    assert chart.COLOURS["chime"] in strokes
    for label in ("Foam roller", "Ball release", "right", "left", "minutes"):
        assert label in text or label.replace(" ", "") in text


@pytest.mark.parametrize("name", ["chart.pdf", "chart"])
def test_a_chart_is_png_or_svg(run, tmp_path: Path, name: str) -> None:
    result = run("show", "floor", "--estimate", "--chart", str(tmp_path / name))
    assert result.status == 2
    assert "a chart is written as .png or .svg" in result.err
    assert result.err.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_list_and_show_do_not_import_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom voiceguide.cli import main\n"
        "for args in (['list'], ['show', 'floor', '--estimate']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "print('matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("False")


def many_techniques(folder: Path, count: int, title: str = "Part", name: str = "") -> Path:
    parts = [f'title = "{name or f"{count} parts"}"', "transition = 0"]
    for n in range(count):
        parts += [
            "[[technique]]",
            f'title = "{title} {n}"',
            f'steps = [{{ say = "Part {n}." }}, {{ hold = {120 if n == count - 1 else 3} }}]',
        ]
    path = folder / "many.toml"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


def test_a_chart_of_500_techniques_stays_within_its_size_and_draws_every_hold(
    run, tmp_path: Path
) -> None:
    from matplotlib.image import imread

    routine = many_techniques(tmp_path, 500)
    out = tmp_path / "many.png"
    result = run("show", str(routine), "--estimate", "--chart", str(out))
    assert result.status == 0, result.err
    image = imread(out)[:, :, :3]
    assert image.shape[0] <= chart.MAX_HEIGHT_PX and image.shape[1] == chart.WIDTH_IN * chart.DPI
    timeline = api.compile(str(routine), estimate_only=True)
    fig = chart.figure(timeline)
    axes = fig.axes[0]
    height = fig.get_figheight() * fig.dpi
    last = [e for e in timeline.sections[-2].events if e.kind == "hold"][-1]
    y = chart.INTERVALS[0] + chart.INTERVALS[1] / 2  # the shared band, at the bottom
    px, py = axes.transData.transform(((last.start + last.duration / 2) / 60_000, y))
    assert np.allclose(
        image[round(height - py), round(px)], hex_rgb(chart.COLOURS["hold"]), atol=0.02
    ), "the last technique's hold is drawn where it happens"


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_long_label_is_never_clipped(run, tmp_path: Path, suffix: str) -> None:
    routine = many_techniques(tmp_path, 3, "W" * 90, "M" * 120)
    out = tmp_path / f"long{suffix}"
    result = run("show", str(routine), "--estimate", "--chart", str(out))
    assert result.status == 0, result.err
    timeline = api.compile(str(routine), estimate_only=True)
    fig = chart.figure(timeline)
    labels = fig.axes[0].get_yticklabels()
    assert any(label.get_text().startswith("W" * 39 + "\u2026") for label in labels)
    for label in [*labels, fig.axes[0].title]:
        box = label.get_window_extent()
        assert box.x0 >= 0 and box.x1 <= fig.get_figwidth() * fig.dpi, label.get_text()
    if suffix == ".png":
        from matplotlib.image import imread

        image = imread(out)[:, :, :3]
        assert np.allclose(image[:, :3], 1.0), "nothing drawn at the left edge"
