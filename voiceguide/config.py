"""Voice settings and the user's config file: one value object, passed by keyword."""

from __future__ import annotations

import datetime
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, RoutineError, UsageError
from .notices import warn_once

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
    "listen",
    "mic",
    "serve_token",
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


@dataclass(frozen=True, slots=True)
class Range:
    """The numbers a setting may be, and how to say so. The one check a number goes through
    wherever it comes from: the command line, the config file, a routine, the history."""

    low: float
    high: float
    expected: str
    """"must be ...": what a message says it must be."""
    whole: bool = False
    open_low: bool = False
    """`low` itself is not allowed (a volume of 0 would be silence)."""

    def holds(self, value: object) -> bool:
        """A finite number (not a boolean, NaN or an infinity; a whole one if `whole`) in range."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and (self.whole or not math.isfinite(value)):
            return False
        return self.low <= value <= self.high and not (self.open_low and value == self.low)


PACE_EXPECTED = f"must be a number from {PACE_MIN} to {PACE_MAX} (1 is as written)"
AMBIENCE_LEVEL_EXPECTED = (
    f"must be a level in LU against the voice from {AMBIENCE_LEVEL_RANGE[0]:g} to "
    f"{AMBIENCE_LEVEL_RANGE[1]:g}"
)
RANGES: dict[str, Range] = {
    "rate": Range(
        RATE_MIN, RATE_MAX, f"must be words per minute from {RATE_MIN} to {RATE_MAX}", whole=True
    ),
    "volume": Range(0, 1, "must be a number in (0, 1]", open_low=True),
    "pace": Range(PACE_MIN, PACE_MAX, PACE_EXPECTED),
    "loudness": Range(
        *LUFS_RANGE, f"must be a loudness in LUFS from {LUFS_RANGE[0]:g} to {LUFS_RANGE[1]:g}"
    ),
    "ambience_level": Range(*AMBIENCE_LEVEL_RANGE, AMBIENCE_LEVEL_EXPECTED),
}
"""Every numeric setting's range, by its config key."""


def valid_pace(value: object) -> bool:
    """A pace: a finite number from 0.5 to 2.0."""
    return RANGES["pace"].holds(value)


def valid_ambience_level(value: object) -> bool:
    """A bed's level: a finite number in AMBIENCE_LEVEL_RANGE."""
    return RANGES["ambience_level"].holds(value)


_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    **{key: (r.holds, r.expected) for key, r in RANGES.items()},
    "voice": (lambda v: isinstance(v, str), "must be text"),
    "engine": (lambda v: v in ENGINES, f"must be one of {', '.join(ENGINES)}"),
    "detail": (lambda v: v in DETAILS, 'must be "full" or "brief"'),
    "mono": (lambda v: isinstance(v, bool), "must be true or false"),
    "ambience": (lambda v: isinstance(v, str), "must be text"),
    "listen": (lambda v: isinstance(v, bool), "must be true or false"),
    "mic": (
        lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
        "must be an input's name or index (see voiceguide mic --list)",
    ),
}
"""What each setting the config file may give must be, and how to say what it must be."""


def check_given(**given: object) -> None:
    """Numeric settings a caller gives (the command line, a library call; None: not given),
    by the same ranges as the config file's: a wrong one is one line naming the setting."""
    bad = [
        f"{key}: {RANGES[key].expected}, got {value!r}"
        for key, value in given.items()
        if value is not None and not RANGES[key].holds(value)
    ]
    if bad:
        raise UsageError("; ".join(bad))


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
    """The config file's text as it is on disk (line endings kept), "" when there is none."""
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
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
    for warning in unknown_keys(config, config_path()):  # once a run: `list` reads every routine
        warn_once("voiceguide", warning)
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


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """The config file's say on listening (None: it says nothing)."""

    listen: bool | None = None
    mic: str | None = None


def listen_config(config: dict[str, object] | None = None) -> ListenConfig:
    """`listen` and `mic` from the config file, each checked like every setting."""
    config = read_config() if config is None else config
    _check(config, "listen", "mic")
    listen, mic = config.get("listen"), config.get("mic")
    return ListenConfig(
        listen if isinstance(listen, bool) else None, None if mic is None else str(mic)
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


Value = bool | int | float | str | datetime.date
"""What voiceguide writes into the config file."""


def remember(key: str, value: Value, path: Path | None = None) -> None:
    """Set one top-level key in the user's config file (see `remember_all`)."""
    remember_all({key: value}, path)


def remember_all(values: Mapping[str, Value], path: Path | None = None) -> None:
    """Set top-level keys in the user's config file, in one write. Everything else in it stays
    as written (comments, order, quoting, tables, keys we do not know, CRLF line endings),
    and the file is replaced atomically, keeping its mode, as every output is written
    (`files.replacing`); a read-only file is left alone, as an export leaves one.

    Raises OSError when the file cannot be written, ValueError when it is read-only or
    cannot be updated without changing anything else (the caller warns and goes on).
    """
    import errno
    import json

    import tomlkit

    from .files import ReadOnlyError, read_only, replacing

    path = path or config_path()
    if read_only(path):
        raise ValueError(f"{path} is read-only")
    raw = _read(path)
    bom, text = (_BOM, raw[1:]) if raw.startswith(_BOM) else ("", raw)
    crlf = "\r\n" in text
    expected = {**_parse(text, path), **values}
    try:
        document = tomlkit.parse(
            text.replace("\r\n", "\n") or "# voiceguide settings: rate, voice, volume\n"
        )
        for key, value in values.items():
            document[key] = value
        updated = tomlkit.dumps(document)
        if crlf:  # as the file was written: an editor on Windows keeps its line endings
            updated = updated.replace("\n", "\r\n")
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
