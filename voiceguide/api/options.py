"""A session's choices as the user gave them, in one value: the CLI builds it once from the
command line, and every entry point takes it. None means "not given": the routine's, the
config's or the default value decides (settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check_given


@dataclass(frozen=True, slots=True)
class Options:
    """How a routine is spoken, sounds and is listened to, as asked for."""

    rate: int | None = None
    """Words per minute heard."""
    voice: str | None = None
    engine: str | None = None
    """natural, espeak or system."""
    pace: float | None = None
    """Scales holds, breaths, rests and transitions, never the speech."""
    detail: str | None = None
    """full or brief."""
    loudness: float | None = None
    """Integrated loudness, LUFS."""
    ambience: str | None = None
    """A bed: a shipped name, a WAV, or "off"."""
    ambience_level: float | None = None
    """The bed against the voice, LU."""
    mono: bool | None = None
    listen: bool | None = None
    """play: listen for voice commands."""
    mic: str | None = None
    """play --listen: the input device, by name or index."""

    def __post_init__(self) -> None:
        """The numbers by the config file's ranges (NaN and infinities refused): one line
        naming the setting, from a library call as from the command line."""
        check_given(
            rate=self.rate,
            pace=self.pace,
            loudness=self.loudness,
            ambience_level=self.ambience_level,
        )


DEFAULT = Options()
