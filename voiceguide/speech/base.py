"""What every engine offers: the Synthesizer interface, voices, and how a voice name resolves."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError, UsageError
from ..estimate import MAX_CHARS, clean_text


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    id: str
    """The engine's identifier, e.g. "gmw/en-US" or "heart": what `resolve_voice` returns."""
    name: str
    languages: tuple[str, ...]


class Synthesizer(Protocol):
    """Turns cue texts into clips; the renderer and player depend on nothing else.

    Every clip is mono 16-bit at `clip.SAMPLE_RATE`, its leading and trailing silence trimmed,
    spoken at `settings.rate` words per minute heard, whatever the engine."""

    @property
    def engine_id(self) -> str:
        """The engine, its version and model: cached clips of another engine are not reused."""
        ...

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        """One clip per text, in order, each yielded as soon as it and those before it are done."""
        ...


class Engine(Synthesizer, Protocol):
    """A running engine: a Synthesizer with voices, that holds processes until closed."""

    name: str

    def voices(self) -> tuple[VoiceInfo, ...]: ...

    def resolve_voice(self, name: str) -> str: ...

    def start(self) -> None:
        """Start its workers now, without waiting, so start-up overlaps other work."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *_: object) -> None: ...


def cue(text: str) -> str:
    """A cue as an error message names it: its start, quoted."""
    text = clean_text(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def too_long(text: str) -> SpeechError | None:
    """The error for a cue longer than any engine is given (MAX_CHARS), or None."""
    if len(text) <= MAX_CHARS:
        return None
    return SpeechError(
        f"cue too long to speak ({len(text)} characters, at most {MAX_CHARS}): {cue(text)}"
    )


def resolve_voice(name: str, voices: Sequence[VoiceInfo], engine: str = "") -> str:
    """The voice id for an id ("gmw/en-US"), name ("English (America)") or language ("en-us").

    Case-insensitive. Raises UsageError listing close matches: engines themselves often keep
    the previous voice, silently, when given one they do not know.
    """
    wanted = name.strip().casefold()
    for matches in (
        lambda v: v.id.casefold() == wanted,
        lambda v: v.name.casefold() == wanted,
        lambda v: wanted in (lang.casefold() for lang in v.languages),
        lambda v: v.id.rsplit("/", 1)[-1].casefold() == wanted,
    ):
        for voice in voices:
            if matches(voice):
                return voice.id
    import difflib

    known = {label.casefold(): label for v in voices for label in (v.id, v.name, *v.languages)}
    close = [known[c] for c in difflib.get_close_matches(wanted, list(known), n=5, cutoff=0.6)]
    of = f" of the {engine} engine" if engine else ""
    see = f"; see 'voiceguide voices{' --engine ' + engine if engine else ''}'"
    if close:
        raise UsageError(f"unknown voice {name!r}{of}; close matches: {', '.join(close)}{see}")
    if len(voices) <= 8:
        names = ", ".join(v.id for v in voices)
        raise UsageError(f"unknown voice {name!r}{of}; the voices are: {names}")
    raise UsageError(f"unknown voice {name!r}{of}; none of the {len(voices)} voices is close{see}")


def dist_version(folder: str, project: str) -> str | None:
    """An installed project's version, from the name of its dist-info folder in `folder` (its
    site-packages), without importlib.metadata (tens of milliseconds); None if not there."""
    wanted = project.lower().replace("-", "_")
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            found, _, rest = name.partition("-")
            if found.lower() == wanted and rest.endswith(".dist-info"):
                return rest.removesuffix(".dist-info")
    return None
