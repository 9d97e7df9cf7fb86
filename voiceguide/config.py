"""Voice settings and the user's config file: one value object, passed by keyword."""

from __future__ import annotations

import functools
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, RoutineError

RATE_MIN, RATE_MAX = 60, 400
DEFAULT_RATE = 150
DEFAULT_VOICE = "en-us"
ENGINES = ("natural", "espeak", "system")
"""The speech engines, in the order a default is looked for (see `speech`)."""
CONFIG_KEYS = ("rate", "voice", "volume", "engine", "screened", "cache_limit_mb", "ambience")
"""Every key the config file may hold; any other is a typo, and is warned about."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How cues are spoken. Never affects the length of a hold, breath or rest."""

    rate: int = DEFAULT_RATE
    voice: str = DEFAULT_VOICE
    volume: float = 1.0
    engine: str | None = None
    """The speech engine asked for (command line, routine, config); None: the default."""
    loudness: float = -16.0
    """Integrated loudness of the routine, LUFS (render.py, loudness.py)."""


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("voiceguide"))


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_config(path: Path | None = None) -> dict[str, object]:
    """The user's config as a dict; a missing file is an empty config, a broken one an error."""
    path = path or config_path()
    return _parse(_read(path).removeprefix(_BOM), path)


_BOM = "\ufeff"
"""A byte-order mark, which some editors put at the start of a UTF-8 file."""


def _read(path: Path) -> str:
    """The config file's text, "" when there is none."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutineError([Problem(str(path), "", f"cannot read config: {exc}")]) from exc


def _parse(text: str, path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutineError([Problem(str(path), "", f"invalid TOML: {exc}")]) from exc


def resolve_settings(
    *,
    rate: int | None = None,
    voice: str | None = None,
    routine_rate: int | None = None,
    routine_voice: str | None = None,
    engine: str | None = None,
    routine_engine: str | None = None,
    config: dict[str, object] | None = None,
) -> Settings:
    """Command line beats the routine file, which beats the user's config, which beats defaults."""
    config = read_config() if config is None else config
    problems = []
    cfg_rate = config.get("rate")
    if cfg_rate is not None and (
        isinstance(cfg_rate, bool)
        or not isinstance(cfg_rate, int)
        or not RATE_MIN <= cfg_rate <= RATE_MAX
    ):
        problems.append(
            Problem(
                str(config_path()),
                "rate",
                f"must be words per minute from {RATE_MIN} to {RATE_MAX}, got {cfg_rate!r}",
            )
        )
    cfg_voice = config.get("voice")
    if cfg_voice is not None and not isinstance(cfg_voice, str):
        problems.append(Problem(str(config_path()), "voice", f"must be text, got {cfg_voice!r}"))
    cfg_volume = config.get("volume", 1.0)
    if (
        isinstance(cfg_volume, bool)
        or not isinstance(cfg_volume, int | float)
        or not (0 < cfg_volume <= 1)
    ):
        problems.append(
            Problem(str(config_path()), "volume", f"must be a number in (0, 1], got {cfg_volume!r}")
        )
    cfg_engine = config.get("engine")
    if cfg_engine is not None and cfg_engine not in ENGINES:
        problems.append(
            Problem(
                str(config_path()),
                "engine",
                f"must be one of {', '.join(ENGINES)}, got {cfg_engine!r}",
            )
        )
    if problems:
        raise RoutineError(problems)
    for warning in unknown_keys(config, config_path()):
        _warn_once(warning)
    return Settings(
        engine=engine or routine_engine or (cfg_engine if isinstance(cfg_engine, str) else None),
        rate=rate or routine_rate or (cfg_rate if isinstance(cfg_rate, int) else DEFAULT_RATE),
        voice=voice
        or routine_voice
        or (cfg_voice if isinstance(cfg_voice, str) else DEFAULT_VOICE),
        volume=float(cfg_volume) if isinstance(cfg_volume, int | float) else 1.0,
    )


def unknown_keys(config: dict[str, object], path: Path) -> list[str]:
    """A line for each key the config file has that nothing reads, with the closest known key:
    a misspelled `voise` would otherwise be ignored in silence."""
    from .names import valid

    return [
        f"{path}: {key}: unknown setting, ignored" + valid(key, CONFIG_KEYS, "settings")
        for key in config
        if key not in CONFIG_KEYS
    ]


@functools.cache
def _warn_once(message: str) -> None:
    """Each config warning once per run, however many routines are read (`list` reads all)."""
    logging.getLogger("voiceguide").warning(message)


def remember(key: str, value: bool | int | float | str, path: Path | None = None) -> None:
    """Set one top-level key in the user's config file. Everything else in it stays as written
    (comments, order, quoting, tables, keys we do not know), and the file is replaced
    atomically, keeping its mode (`files.atomic`).

    Raises OSError when the file cannot be written, ValueError when it cannot be updated
    without changing anything else (the caller warns and goes on).
    """
    import json

    import tomlkit

    from .files import atomic

    path = path or config_path()
    raw = _read(path)
    bom, text = (_BOM, raw[1:]) if raw.startswith(_BOM) else ("", raw)
    expected = {**_parse(text, path), key: value}
    try:
        document = tomlkit.parse(text or "# voiceguide settings: rate, voice, volume\n")
        document[key] = value
        updated = tomlkit.dumps(document)
        written = tomllib.loads(updated)
    except (ValueError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ValueError(f"{path} could not be updated: {exc}") from exc

    def canonical(config: dict[str, object]) -> str:
        return json.dumps(config, sort_keys=True, default=repr)

    if canonical(written) != canonical(expected):  # never write what reads back differently
        raise ValueError(f"{path} could not be updated without changing other settings")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as temp:
        temp.write_bytes((bom + updated).encode("utf-8"))
