"""Voice settings and the user's config file: one value object, passed by keyword."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, RoutineError

RATE_MIN, RATE_MAX = 60, 400
DEFAULT_RATE = 150
DEFAULT_VOICE = "en-us"


@dataclass(frozen=True, slots=True)
class Settings:
    """How cues are spoken. Never affects the length of a hold, breath or rest."""

    rate: int = DEFAULT_RATE
    voice: str = DEFAULT_VOICE
    volume: float = 1.0


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("voiceguide"))


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_config(path: Path | None = None) -> dict[str, object]:
    """The user's config as a dict; a missing file is an empty config, a broken one an error."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutineError([Problem(str(path), "", f"cannot read config: {exc}")]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutineError([Problem(str(path), "", f"invalid TOML: {exc}")]) from exc
