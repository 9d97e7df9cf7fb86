"""A routine compiled: its sections in order, laid out only when asked for, within the length
limit; and every text it may speak."""

from __future__ import annotations

from collections.abc import Iterator

from .. import phrases
from ..errors import Problem, RoutineError
from ..language import Posture, Routine
from ..timeline import Section, Timeline
from .layout import SpeechMs
from .sections import outro, preamble, resumed, technique

MAX_ROUTINE_MS = 3 * 3600 * 1000


def compile_sections(
    routine: Routine,
    speech_ms: SpeechMs,
    *,
    limit: bool = True,
    pace: float = 1.0,
    start_at: int | None = None,
    detail: str = "full",
    listening: bool = False,
) -> Iterator[Section]:
    """The routine's sections in order, each laid out only when asked for, so a player can
    start the first while later cues are still being synthesized. `limit=False` skips the
    length limit: it applies to the estimated length, checked before any synthesis.
    `start_at` n resumes: a short opening, then technique n on (None: the whole routine, its
    full opening). `detail` "brief" is for someone who knows the routine (see `sections.preamble`;
    each technique's brief texts). `listening`: the session listens for voice commands, and
    its opening says so."""
    first = start_at or 1
    if not 1 <= first <= len(routine.techniques):
        raise ValueError(f"start_at must be 1 to {len(routine.techniques)}, got {start_at}")
    brief = detail == "brief"
    section = (
        resumed(routine, first, speech_ms, listening)
        if start_at is not None
        else preamble(routine, speech_ms, brief, listening)
    )
    yield section
    before: Posture | None = None
    for n, posture in enumerate(phrases.postures(routine), 1):
        if n < first:
            continue
        section = technique(routine, n, before, section.end, speech_ms, pace, brief)
        before = posture
        if limit:
            _check_length(routine, section.end)
        yield section
    section = outro(routine, section.end, speech_ms)
    if limit:
        _check_length(routine, section.end)
    yield section


def _check_length(routine: Routine, end: int) -> None:
    if end > MAX_ROUTINE_MS:
        raise RoutineError(
            [
                Problem(
                    routine.source,
                    "",
                    "a routine must compile to at most 3 "
                    f"hours, this one runs to at least {end // 60_000} "
                    "minutes",
                )
            ]
        )


def compile_routine(
    routine: Routine,
    speech_ms: SpeechMs,
    *,
    limit: bool = True,
    pace: float = 1.0,
    start_at: int | None = None,
    detail: str = "full",
    listening: bool = False,
) -> Timeline:
    sections = compile_sections(
        routine,
        speech_ms,
        limit=limit,
        pace=pace,
        start_at=start_at,
        detail=detail,
        listening=listening,
    )
    return Timeline(routine.title, tuple(sections))


def cue_texts(
    routine: Routine,
    pace: float = 1.0,
    start_at: int | None = None,
    detail: str = "full",
    listening: bool = False,
) -> tuple[str, ...]:
    """Every text the routine may speak, in order, before knowing how long any of them lasts.

    A superset: a time-left cue that turns out not to fit its hold is listed but not spoken."""
    compiled = compile_routine(
        routine,
        lambda text: 1,
        pace=pace,
        start_at=start_at,
        detail=detail,
        listening=listening,
    )
    return compiled.spoken
