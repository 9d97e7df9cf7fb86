"""AAC in MP4 (.m4a, .m4b): the file phones' players, Apple Books and podcast apps play with
chapters and a cover.

FFmpeg's native AAC encoder and its MP4 muxer, through PyAV: a QuickTime chapter track (Apple's
players) and a Nero chapter list (most others), one chapter per section with its title; title,
artist and album; the routine's chart as cover art. The encoder's priming and the last frame's
padding are cut by an edit list in the audio's own timescale, so the file lasts what the WAV
lasts, to the sample. The index goes first (faststart): a phone plays and seeks before the
whole file has arrived. More: docs/export.md.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .clip import SAMPLE_RATE
from .timeline import Timeline

if TYPE_CHECKING:
    from .render import Samples

BIT_RATE_PER_CHANNEL = 48_000
"""Speech at the render rate: ffmpeg's AAC at 48 kb/s a channel (docs/export.md)."""
CODER = "fast"
"""FFmpeg's AAC coder: "fast" encodes a routine 2.8 times as fast as the default "twoloop",
and nearer the original (docs/export.md)."""
BRANDS = {".m4a": "M4A ", ".m4b": "M4B "}
"""The major brand: M4B is what Apple Books takes for an audiobook, with its chapters."""
LAYOUTS = {1: "mono", 2: "stereo"}


def write(
    timeline: Timeline,
    pcm_sections: Iterable[Iterable[Samples]],
    path: Path,
    suffix: str,
    *,
    channels: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Encode the sections' int16 blocks (frames x `channels`) into `path`. FFmpeg's errors
    come out as OSError, as every other encoder's do."""
    import av

    try:
        _write(timeline, pcm_sections, path, suffix, channels, progress)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise
        raise OSError(str(exc)) from exc


def _write(
    timeline: Timeline,
    pcm_sections: Iterable[Iterable[Samples]],
    path: Path,
    suffix: str,
    channels: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    import av
    import numpy as np
    from av.stream import Disposition

    cover = chart_cover(timeline)
    options = {
        "movflags": "+faststart",
        "movie_timescale": str(SAMPLE_RATE),  # the edit list then cuts to the sample, not ms
        "brand": BRANDS[suffix],
    }
    with av.open(str(path), "w", format="mp4", options=options) as out:
        out.metadata.update({"title": timeline.title, "album": timeline.title})
        out.metadata["artist"] = "voiceguide"
        audio = out.add_stream(
            "aac",
            rate=SAMPLE_RATE,
            layout=LAYOUTS[channels],
            bit_rate=BIT_RATE_PER_CHANNEL * channels,
            options={"aac_coder": CODER},
        )
        picture = out.add_mux_stream("png", width=cover.width, height=cover.height)
        picture.disposition = Disposition.attached_pic
        out.set_chapters(
            [
                {
                    "id": i,
                    "start": section.start,
                    "end": section.end,
                    "time_base": Fraction(1, 1000),
                    "metadata": {"title": section.title},
                }
                for i, section in enumerate(timeline.sections, 1)
            ]
        )
        written = 0
        for section, blocks in zip(timeline.sections, pcm_sections, strict=True):
            for pcm in blocks:
                planar = pcm.reshape(-1, channels).T.astype(np.float32) / 32768
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(planar), format="fltp", layout=LAYOUTS[channels]
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = written
                written += planar.shape[1]
                out.mux(audio.encode(frame))
            if progress is not None:
                progress(section.end, timeline.duration)
        out.mux(audio.encode(None))
        packet = av.Packet(cover.png)
        packet.stream = picture
        packet.pts = packet.dts = 0
        out.mux(packet)


@dataclass(frozen=True, slots=True)
class Cover:
    """A PNG and its size in pixels."""

    png: bytes
    width: int
    height: int


def chart_cover(timeline: Timeline) -> Cover:
    """The routine's chart (chart.py) in the middle of a white square: players show covers
    square, and would crop the wide chart."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    from .chart import figure

    canvas = FigureCanvasAgg(figure(timeline))
    canvas.draw()  # type: ignore[no-untyped-call]
    pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]  # type: ignore[no-untyped-call]
    height, width = pixels.shape[:2]
    side = max(height, width)
    square = np.full((side, side, 3), 255, dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = pixels
    png = io.BytesIO()
    imsave(png, square, format="png")
    return Cover(png.getvalue(), side, side)
