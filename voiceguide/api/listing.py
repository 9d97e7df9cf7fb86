"""The catalog's lengths: every built-in routine and technique, estimated without synthesis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import catalog, phrases
from ..compiler import compile_routine
from ..language import Routine, Technique
from .options import Options
from .settings import estimate, settings_for


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of `voiceguide list`."""

    name: str
    title: str
    duration: int
    """Estimated milliseconds at the default voice speed."""
    equipment: tuple[str, ...]
    own: bool = False
    """A technique from the user's own techniques/ folder."""


def builtin_routines(pace: float | None = None, detail: str | None = None) -> list[Entry]:
    """The built-in routines, at `pace` and `detail` (None: the routine's, the config's, or
    the default), as `show --estimate` reckons them."""
    entries = []
    for name, path in catalog.builtin_routines().items():
        routine = catalog.read_routine(path)
        settings = settings_for(routine, Options(pace=pace, detail=detail))
        timeline = compile_routine(
            routine, estimate(settings), pace=settings.pace, detail=settings.detail
        )
        equipment = phrases.equipment(routine)
        entries.append(Entry(name, routine.title, timeline.duration, equipment))
    return entries


def builtin_techniques(pace: float | None = None, detail: str | None = None) -> list[Entry]:
    """The built-in techniques, then the user's own (from the config folder's techniques/),
    each on its own at `pace` and `detail`, as `builtin_routines`. The user's come from the
    index where their files have not changed (`index`)."""
    from . import index

    options = Options(pace=pace, detail=detail)

    def length(technique: Technique) -> int:
        alone = dataclasses.replace(technique, transition_ms=0)  # the technique's own length
        routine = Routine(technique.title, (alone,), transition_ms=0)
        settings = settings_for(routine, options)
        timeline = compile_routine(
            routine, estimate(settings), pace=settings.pace, detail=settings.detail
        )
        return timeline.sections[1].duration

    settings = settings_for(Routine("", ()), options)  # a technique alone has no settings
    key = repr((settings.engine, settings.rate, settings.pace, settings.detail))
    entries = [
        Entry(name, technique.title, length(technique), technique.equipment)
        for name, technique in catalog.builtin_techniques().items()
    ]
    own = index.user_entries(key, length)
    entries += [Entry(tid, k.title, k.length, k.equipment, True) for tid, k in own.items()]
    return entries
