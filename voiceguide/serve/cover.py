"""The feed's cover art: podcast apps show a feed by its square picture (Apple asks for 1400
to 3000 pixels), and a feed without one is a blank tile among the others. Drawn once per
server with matplotlib, already here for the charts, only when an app first asks for it."""

from __future__ import annotations

import functools
import io

SIDE = 1400
"""Pixels on each side: the smallest square Apple's podcast directory accepts."""
_INK, _PAPER, _SOFT = "#f4efe6", "#24505c", "#8fb3b8"


@functools.cache
def cover_png() -> bytes:
    """A PNG of SIDE x SIDE: the name, and a column of vertebrae in a gentle curve."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    figure = Figure(figsize=(7, 7), dpi=SIDE // 7, facecolor=_PAPER)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.axis("off")
    for i, y in enumerate(np.linspace(0.86, 0.36, 12)):
        x = 0.70 + 0.05 * np.sin((y - 0.36) / 0.5 * np.pi)  # the upper back's curve
        width = 0.10 + 0.004 * i
        axes.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - 0.014),
                width,
                0.028,
                boxstyle="round,pad=0.004,rounding_size=0.014",
                facecolor=_SOFT if i % 2 else _INK,
                edgecolor="none",
            )
        )
    axes.text(0.08, 0.20, "voiceguide", color=_INK, fontsize=54, weight="bold")
    axes.text(0.085, 0.12, "your routines, spoken", color=_SOFT, fontsize=24)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=SIDE // 7, facecolor=_PAPER)
    return png.getvalue()
