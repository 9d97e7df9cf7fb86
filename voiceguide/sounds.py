"""The chimes: names the routine files use, and their WAV clips.

The WAVs are made by scripts/make-sounds and shipped as files, so loading needs no numpy. A
routine may also bring its own WAV files (a path inside its folder, checked by the language):
those may need converting to our format, and are kept under their absolute path.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from .clip import Clip, read_wav
from .errors import UsageError, VoiceguideError

NAMES: dict[str, str] = {
    "technique-start": "warm two-note rising bell: a new technique begins",
    "hold-start": "bright single high bell: a hold begins",
    "hold-end": "low bell: the hold is over",
    "switch-side": "two quick soft wood-block taps: change sides",
    "routine-end": "soft three-note descending arpeggio: the routine is over",
    "breathe-in": "soft tone gliding up: breathe in",
    "breathe-out": "soft tone gliding down: breathe out",
    "breathe-hold": "very soft steady tone: hold the breath",
}
"""Every sound, name -> what it tells the listener; the names are what routine files use."""

_PACKAGED = Path(__file__).parent / "sounds"
"""Where the wheel puts the top-level sounds/ (hatch force-include)."""
_REPO = Path(__file__).parent.parent / "sounds"
"""A source checkout or editable install, where sounds/ sits beside the package."""


def sound_dir() -> Path:
    """The installed copy wins, so a wheel never reads stray files from the working directory."""
    return _PACKAGED if _PACKAGED.is_dir() else _REPO


def shipped_files() -> list[Path]:
    """Every file shipped in the sounds folder (the chimes, the beds, their README): files the
    program reads, which nothing it writes may replace."""
    return sorted(path for path in sound_dir().rglob("*") if path.is_file())


def _check_name(name: str) -> None:
    if name in NAMES:
        return
    close = difflib.get_close_matches(name, NAMES, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(NAMES)}"
    raise UsageError(f"unknown sound {name!r}; {hint}")


@lru_cache(maxsize=64)
def load_file(path: Path) -> Clip:
    """A routine's own sound or a user's bed: a WAV as another program writes it (any sample
    format), mono or stereo at any rate from 8 to 192 kHz and up to a minute, made mono at
    ours (see `wavread`). Raises ValueError (or OSError) for anything else."""
    from .wavread import read

    return read(path)


@lru_cache(maxsize=len(NAMES))
def load(name: str) -> Clip:
    """The clip for `name`, read once: a routine plays the same few chimes many times."""
    if name.endswith((".wav", ".WAV")) and Path(name).is_absolute():
        return load_file(Path(name))
    _check_name(name)
    path = sound_dir() / f"{name}.wav"
    try:
        return read_wav(path)
    except (OSError, ValueError) as exc:
        raise VoiceguideError(
            f"sound {name!r} is missing or damaged ({exc}); reinstall voiceguide, "
            "or run scripts/make-sounds in a source checkout"
        ) from exc


def duration_ms(name: str) -> int:
    """How long the chime lasts, so the compiler can leave room for it."""
    return load(name).duration_ms
