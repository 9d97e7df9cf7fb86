"""The options several commands share, packed into one api.Options value."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..api.options import Options
from ..config import (
    AMBIENCE_LEVEL,
    AMBIENCE_LEVEL_RANGE,
    DETAILS,
    ENGINES,
    LUFS_RANGE,
    PACE_MAX,
    PACE_MIN,
    RANGES,
    RATE_MAX,
    RATE_MIN,
    TARGET_LUFS,
)


class Number(click.ParamType[float, Any]):
    """A numeric setting on the command line, checked by the same `config.Range` as in the
    config file and a routine: NaN and infinities ("nan", "-inf", "1e999") are refused too,
    which click's FloatRange lets through."""

    def __init__(self, key: str) -> None:
        self.range = RANGES[key]
        self.name = "integer" if self.range.whole else "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = int(value) if self.range.whole else float(value)
            except ValueError:
                self.fail(f"{self.range.expected}, got {value!r}", param, ctx)
        if not self.range.holds(number):
            self.fail(f"{self.range.expected}, got {value}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        low, high = self.range.low, self.range.high
        return f"{'INTEGER' if self.range.whole else 'FLOAT'} RANGE [{low:g}<=x<={high:g}]"


RATE = click.option(
    "--rate",
    type=Number("rate"),
    default=None,
    help=f"Voice speed in words per minute ({RATE_MIN}-{RATE_MAX}). Default: the routine's, "
    "your config's, or 150.",
)
VOICE = click.option(
    "--voice",
    default=None,
    help="Voice id, name or language (see 'voiceguide voices'). Default: en-us.",
)

ENGINE = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="Speech engine: natural (the default for English), espeak (fast, 130 languages) or "
    "system (your platform's voices). Default: the routine's, your config's, or natural.",
)

PACE = click.option(
    "--pace",
    type=Number("pace"),
    default=None,
    help=f"Scale every hold, breath, rest and transition ({PACE_MIN}-{PACE_MAX}; 2 is twice "
    "as long), never the speech. Default: the routine's, your config's, or 1.",
)

DETAIL = click.option(
    "--detail",
    type=click.Choice(DETAILS),
    default=None,
    help="full: every explanation; brief: for someone who knows the routine (safety in one "
    "sentence, sounds not explained, positions in one line). Default: your config's, or full; "
    "play is full the first time and after 30 days away unless this is given.",
)

LOUDNESS = click.option(
    "--loudness",
    type=Number("loudness"),
    default=None,
    help=f"Integrated loudness in LUFS ({LUFS_RANGE[0]:g} to {LUFS_RANGE[1]:g}; default "
    f"{TARGET_LUFS:g}, where phones expect speech), true peak at most -1 dBTP. Default: your "
    "config's, or -16.",
)
AMBIENCE = click.option(
    "--ambience",
    metavar="NAME|FILE.wav|off",
    default=None,
    help="A calm bed under the routine that ducks under the voice: brown-noise, drone, any "
    ".wav file, or off. Default: the routine's, your "
    "config's, or off.",
)
AMBIENCE_LEVEL_OPTION = click.option(
    "--ambience-level",
    type=Number("ambience_level"),
    default=None,
    metavar="LU",
    help=f"How loud the bed is against the voice in the quiet between cues, in LU "
    f"({AMBIENCE_LEVEL_RANGE[0]:g} to {AMBIENCE_LEVEL_RANGE[1]:g}; -12 is louder). Default: the "
    f"routine's, your config's, or {AMBIENCE_LEVEL:g}.",
)
MONO = click.option(
    "--mono/--stereo",
    default=None,
    help="Mono, or stereo where cues of a side lean toward that ear. Default: your "
    "config's, or stereo.",
)


LISTEN = click.option(
    "--listen/--no-listen",
    default=None,
    help="Listen for voice commands in the quiet (pause, continue, next, back, more time, "
    "stop, it hurts), offline; never while the guide speaks. Default: your config's, or off.",
)
MIC = click.option(
    "--mic",
    metavar="NAME|INDEX",
    default=None,
    help="The microphone --listen uses (see 'voiceguide mic --list'). Default: your config's, "
    "or the system's default input.",
)

RUN_OPTIONS = (RATE, VOICE, ENGINE, PACE, DETAIL, LOUDNESS, AMBIENCE, AMBIENCE_LEVEL_OPTION, MONO)
SPOKEN_OPTIONS = RUN_OPTIONS[:5]


def run_options(
    *options: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with `options` (default: all of RUN_OPTIONS), handed to it as one
    `options: Options` argument."""
    chosen = options or RUN_OPTIONS

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in Options.__slots__ if name in kwargs}
            return command(*args, options=Options(**given), **kwargs)

        for option in reversed(chosen):
            wrapper = option(wrapper)
        return wrapper

    return decorate
