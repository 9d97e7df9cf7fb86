"""Voice settings and the user's config file: one value object, passed by keyword."""

from __future__ import annotations

import datetime
import functools
import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, RoutineError, UsageError

RATE_MIN, RATE_MAX = 60, 400
DEFAULT_RATE = 150
DEFAULT_VOICE = "en-us"
PACE_MIN, PACE_MAX = 0.5, 2.0
"""How much longer (above 1) or shorter (below 1) every hold, breath, rest and transition is."""
TARGET_LUFS = -16.0
"""Integrated loudness of exports and play: the usual target for spoken audio on phones."""
LUFS_RANGE = (-30.0, -14.0)
"""Targets `--loudness` accepts: quieter is lost on a phone; louder than -14 would take the
voice's peaks past the -1 dBTP ceiling (a cue's own peaks sit 13 dB above its loudness)."""
AMBIENCE_LEVEL = -18.0
"""Where a bed sits against the voice, in LU, in the quiet between cues: there, not in the
way, and under BS.1770's relative gate, so it leaves the routine's loudness as it is."""
AMBIENCE_LEVEL_RANGE = (-30.0, -12.0)
"""Levels `--ambience-level` accepts: lower is hardly heard on a phone; higher would reach the
gate and lift the routine's measured loudness, and crowd the voice."""
ENGINES = ("natural", "espeak", "system")
"""The speech engines, in the order a default is looked for (see `speech`)."""
CONFIG_KEYS = (
    "rate",
    "voice",
    "volume",
    "engine",
    "pace",
    "detail",
    "screened",
    "screened_on",
    "cache_limit_mb",
    "ambience",
    "ambience_level",
    "loudness",
    "mono",
)
"""Every key the config file may hold; any other is a typo, and is warned about."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How cues are spoken. Never affects the length of a hold, breath or rest."""

    rate: int = DEFAULT_RATE
    voice: str = DEFAULT_VOICE
    volume: float = 1.0
    engine: str | None = None
    """The speech engine asked for (command line, routine, config); None: the default."""
    pace: float = 1.0
    """Scales holds, breath windows, rests and transitions, never the speech."""
    detail: str = "full"
    """"full" or "brief" (see `DETAILS`)."""


DETAILS = ("full", "brief")
"""How much the guide says: everything, or for someone who knows the routine."""
PACE_EXPECTED = f"must be a number from {PACE_MIN} to {PACE_MAX} (1 is as written)"


def _number(value: object, low: float, high: float, *, whole: bool = False) -> bool:
    """A number from a file (not a boolean; a whole one if `whole`) from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (isinstance(value, int) or not whole) and low <= value <= high


def valid_pace(value: object) -> bool:
    """A pace from a file: a number (not a boolean) from 0.5 to 2.0."""
    return _number(value, PACE_MIN, PACE_MAX)


AMBIENCE_LEVEL_EXPECTED = (
    f"must be a level in LU against the voice from {AMBIENCE_LEVEL_RANGE[0]:g} to "
    f"{AMBIENCE_LEVEL_RANGE[1]:g}"
)


def valid_ambience_level(value: object) -> bool:
    """A bed's level from a file: a number (not a boolean) in AMBIENCE_LEVEL_RANGE."""
    return _number(value, *AMBIENCE_LEVEL_RANGE)


_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "rate": (
        lambda v: _number(v, RATE_MIN, RATE_MAX, whole=True),
        f"must be words per minute from {RATE_MIN} to {RATE_MAX}",
    ),
    "voice": (lambda v: isinstance(v, str), "must be text"),
    "volume": (lambda v: _number(v, 0, 1) and v != 0, "must be a number in (0, 1]"),
    "engine": (lambda v: v in ENGINES, f"must be one of {', '.join(ENGINES)}"),
    "pace": (valid_pace, PACE_EXPECTED),
    "detail": (lambda v: v in DETAILS, 'must be "full" or "brief"'),
    "loudness": (
        lambda v: _number(v, *LUFS_RANGE),
        f"must be a loudness in LUFS from {LUFS_RANGE[0]:g} to {LUFS_RANGE[1]:g}",
    ),
    "mono": (lambda v: isinstance(v, bool), "must be true or false"),
    "ambience": (lambda v: isinstance(v, str), "must be text"),
    "ambience_level": (valid_ambience_level, AMBIENCE_LEVEL_EXPECTED),
}
"""What each setting the config file may give must be, and how to say what it must be."""


def _check(config: dict[str, object], *keys: str) -> None:
    """Raise one problem for each of `keys` the config gives a value it must not have."""
    problems = [
        Problem(str(config_path()), key, f"{_CHECKS[key][1]}, got {config[key]!r}")
        for key in keys
        if key in config and not _CHECKS[key][0](config[key])
    ]
    if problems:
        raise RoutineError(problems)


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
    pace: float | None = None,
    routine_pace: float | None = None,
    detail: str | None = None,
    config: dict[str, object] | None = None,
) -> Settings:
    """Command line beats the routine file, which beats the user's config, which beats defaults."""
    config = read_config() if config is None else config
    _check(config, "rate", "voice", "volume", "engine", "pace", "detail")
    cfg_rate, cfg_voice, cfg_engine = config.get("rate"), config.get("voice"), config.get("engine")
    cfg_volume, cfg_pace, cfg_detail = (
        config.get("volume"),
        config.get("pace"),
        config.get("detail"),
    )
    for warning in unknown_keys(config, config_path()):
        _warn_once(warning)
    return Settings(
        engine=engine or routine_engine or (cfg_engine if isinstance(cfg_engine, str) else None),
        rate=rate or routine_rate or (cfg_rate if isinstance(cfg_rate, int) else DEFAULT_RATE),
        voice=voice
        or routine_voice
        or (cfg_voice if isinstance(cfg_voice, str) else DEFAULT_VOICE),
        volume=float(cfg_volume) if isinstance(cfg_volume, int | float) else 1.0,
        pace=float(
            pace or routine_pace or (cfg_pace if isinstance(cfg_pace, int | float) else 1.0)
        ),
        detail=detail or (cfg_detail if isinstance(cfg_detail, str) else "full"),
    )


@dataclass(frozen=True, slots=True)
class SoundConfig:
    """The config file's say on how a routine sounds (None: it says nothing)."""

    loudness: float | None = None
    mono: bool | None = None
    ambience: str | None = None
    ambience_level: float | None = None


def sound_config(config: dict[str, object] | None = None) -> SoundConfig:
    """`loudness`, `mono`, `ambience` and `ambience_level` from the config file, each checked:
    a wrong one is an error naming the file and the key, as for every setting."""
    config = read_config() if config is None else config
    _check(config, "loudness", "mono", "ambience", "ambience_level")
    loudness, mono, ambience = config.get("loudness"), config.get("mono"), config.get("ambience")
    level = config.get("ambience_level")
    return SoundConfig(
        float(loudness) if isinstance(loudness, int | float) else None,
        mono if isinstance(mono, bool) else None,
        ambience if isinstance(ambience, str) else None,
        float(level) if isinstance(level, int | float) else None,
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


Value = bool | int | float | str | datetime.date
"""What voiceguide writes into the config file."""


def remember(key: str, value: Value, path: Path | None = None) -> None:
    """Set one top-level key in the user's config file (see `remember_all`)."""
    remember_all({key: value}, path)


def remember_all(values: Mapping[str, Value], path: Path | None = None) -> None:
    """Set top-level keys in the user's config file, in one write. Everything else in it stays
    as written (comments, order, quoting, tables, keys we do not know), and the file is
    replaced atomically, keeping its mode, as every output is written (`files.replacing`); a
    read-only config is left as it is (a PermissionError).

    Raises OSError when the file cannot be written, ValueError when it cannot be updated
    without changing anything else (the caller warns and goes on).
    """
    import errno
    import json

    import tomlkit

    from .files import ReadOnlyError, replacing

    path = path or config_path()
    raw = _read(path)
    bom, text = (_BOM, raw[1:]) if raw.startswith(_BOM) else ("", raw)
    expected = {**_parse(text, path), **values}
    try:
        document = tomlkit.parse(text or "# voiceguide settings: rate, voice, volume\n")
        for key, value in values.items():
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
    try:
        with replacing(path) as temp:
            temp.write_bytes((bom + updated).encode("utf-8"))
    except UsageError as exc:  # a place we should not write: the caller warns and goes on
        reason = "the file is read-only" if isinstance(exc, ReadOnlyError) else str(exc)
        raise PermissionError(errno.EACCES, reason.removeprefix(f"{path}: "), str(path)) from exc
