"""Mistakes a routine file can make that are still valid TOML and valid steps, and would
otherwise pass in silence: a placeholder spoken as written ("{sied}"), a side name nobody
meant ("rigth"). They are warnings, not errors: the routine still runs as written.

The compiler adds the ones that depend on timing (a cue longer than its interval, two breaths
the same way in a row), since only it knows when each cue falls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .language import Routine, Technique
from .names import closest, valid

PLACEHOLDERS = ("side",)
SIDES = (
    "right",
    "left",
    "front",
    "back",
    "top",
    "bottom",
    "upper",
    "lower",
    "inner",
    "outer",
    "middle",
    "centre",
    "center",
)
"""Side names that read as a side in "the {side} side" and "to the {side}"."""

_PLACEHOLDER = re.compile(r"\{([^{}]{0,40})\}")


def _texts(technique: Technique) -> Iterator[tuple[str, str]]:
    """(where, text) for every text a technique speaks."""
    yield "title", technique.title
    if technique.position:
        yield "position", technique.position
    if technique.safety:
        yield "safety", technique.safety
    if technique.brief_position:
        yield "brief_position", technique.brief_position
    if technique.brief_safety:
        yield "brief_safety", technique.brief_safety
    for i, step in enumerate(technique.steps, 1):
        text = getattr(step, "text", None)
        if text:
            yield f"step {i}", text


def definition_warnings(routine: Routine) -> tuple[str, ...]:
    """Unknown placeholders and unknown side names, each with its file and place."""
    found: list[str] = []
    for n, technique in enumerate(routine.techniques, 1):
        place = f"{routine.source}: technique {n}"
        if technique.id:
            place += f" ({technique.id})"
        for where, text in _texts(technique):
            for name in _PLACEHOLDER.findall(text):
                if name not in PLACEHOLDERS:
                    close = closest(name, PLACEHOLDERS)
                    hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                    found.append(
                        f"{place}, {where}: {{{name}}} is not a placeholder and would be "
                        f"spoken as written{hint}; the only placeholder is {{side}}"
                    )
        for side in technique.sides:
            if side.lower() not in SIDES:
                found.append(
                    f"{place}, sides: {side!r} is not a side name we know, and would be spoken "
                    f"as 'the {side} side'" + valid(side.lower(), SIDES, "known sides")
                )
    return tuple(found)
