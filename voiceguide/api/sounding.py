"""One sound on its own, by name: a chime, or ten seconds of a bed at its level under a routine;
to hear, or to write to a file with the same checks and care as an exported routine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .settings import program_files

if TYPE_CHECKING:
    from ..render import Samples


def sound_samples(name: str) -> Samples:
    """A shipped chime as it is, or a shipped bed's preview (faded in and out, at the level
    it has under a routine at the default loudness, at the config's `ambience_level`)."""
    import numpy as np

    from .. import ambience, sounds

    if name in ambience.BEDS:
        from ..config import AMBIENCE_LEVEL, TARGET_LUFS, sound_config
        from ..render import to_pcm16

        bed = ambience.load(name, [], name, [])
        assert bed is not None
        level = sound_config().ambience_level
        return to_pcm16(ambience.preview(bed, TARGET_LUFS, level or AMBIENCE_LEVEL))
    return np.frombuffer(sounds.load(name).pcm, dtype="<i2").copy()


def export_sound(name: str, audio: Path, *, force: bool = False) -> None:
    """Write the sound `name` to `audio` (format from its suffix): atomic, tagged, and refused
    before any work where `export` would refuse it, so a read-only file needs `force` and
    a file the program reads (a shipped sound, the config) is never replaced."""
    from .. import export as exporter
    from ..clip import SAMPLE_RATE
    from ..timeline import Event, Section, samples_to_ms

    exporter.check_targets(audio, force=force)
    exporter.check_inputs((audio,), program_files())
    pcm = sound_samples(name)
    ms = samples_to_ms(len(pcm), SAMPLE_RATE)
    event = Event(0, ms, "chime", name=name)
    exporter.export(name, [(Section(name, 0, ms, (event,)), [pcm])], audio, force=force)
