"""A routine to an audio file (and a transcript): each section rendered and encoded as soon
as its cues are made, while the speech workers go on with the next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..language import Routine
from ..timeline import Timeline
from .options import DEFAULT, Options
from .settings import input_files, load, mix_for
from .synthesis import Progress, check_start, unfolding
from .threads import preload

if TYPE_CHECKING:
    from ..speech import Synthesizer


def export(
    routine: str | Routine,
    audio: Path,
    options: Options = DEFAULT,
    *,
    transcript: Path | None = None,
    progress: Progress | None = None,
    engine: Synthesizer | None = None,
    force: bool = False,
    start_at: int | None = None,
) -> Timeline:
    """Write the routine to `audio` (format from its suffix) and optionally a transcript.
    `force` replaces a read-only file; a file the export reads is never replaced.
    `options`: how it is spoken and mixed (settings.py: None is the routine's, the config's
    or the default). `start_at` n starts at technique n with the
    short opening of a resumed session, as `playing` would: what a resume plays, to take
    elsewhere."""
    from .. import export as exporter

    exporter.check_targets(audio, transcript, force=force)
    routine = load(routine)
    check_start(routine, start_at)
    exporter.check_inputs((audio, transcript), input_files(routine))
    mix = mix_for(routine, options)
    if mix.bed is not None and Path(mix.bed.name).is_absolute():  # the user's own WAV
        exporter.check_inputs((audio, transcript), [Path(mix.bed.name)])
    preload("numpy", "soundfile")
    from ..render import Renderer

    with unfolding(
        routine, options, progress=progress, engine=engine, start_at=start_at
    ) as unfolded:
        renderer = Renderer(unfolded.clips, unfolded.settings.volume, mix)
        return exporter.export(
            routine.title,
            ((section, renderer.blocks(section)) for section in unfolded.sections),
            audio,
            expected_ms=unfolded.expected_ms,
            transcript=transcript,
            progress=progress and (lambda done, total: progress("audio", done, total)),
            force=force,
            channels=mix.channels,
        )
