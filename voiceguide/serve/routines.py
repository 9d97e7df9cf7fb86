"""What the server offers: the built-in routines, then the user's own techniques (each a routine
of one technique), by name. A URL names a routine only through this table, so no part of a URL
ever becomes a path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api import Options
    from ..language import Routine


@dataclass(frozen=True, slots=True)
class Listing:
    """One routine as the index shows it."""

    name: str
    title: str
    duration: int
    """Estimated milliseconds, as `show --estimate` reckons them with the session's options."""
    postures: tuple[str, ...]
    """Where the body is, in order, each once: chair, standing, wall, floor."""
    equipment: tuple[str, ...]
    summary: str | None


def names() -> dict[str, str]:
    """Every routine served, name -> where it comes from ("built-in" or the technique file)."""
    from .. import catalog
    from ..errors import RoutineError

    found = dict.fromkeys(catalog.builtin_routines(), "built-in")
    try:
        own = catalog.user_techniques()
    except RoutineError:  # `list` and `check` say what is wrong; served without them
        own = {}
    for name in own:
        found.setdefault(name, "your techniques")
    return found


def load(name: str) -> Routine:
    """The routine served as `name` (one of `names()`)."""
    from .. import catalog

    return catalog.load_routine(name)


def listing(name: str, options: Options) -> Listing:
    from .. import api, phrases

    routine = load(name)
    timeline = api.compile(routine, options, estimate_only=True)
    postures = tuple(dict.fromkeys(p for p in phrases.postures(routine) if p))
    return Listing(
        name,
        routine.title,
        timeline.duration,
        postures,
        phrases.equipment(routine),
        routine.summary,
    )
