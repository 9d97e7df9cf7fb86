"""A play as the history keeps it: the name a routine is kept under, the recorder the player
feeds as it goes, how it ended, and where `play --resume` carries on (history/ holds the
database)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from . import history
from .catalog import load_routine
from .config import Settings
from .errors import AudioDeviceError, SpeechError, Terminated, UsageError
from .language import Routine


def routine_key(spec: str | Routine, routine: Routine) -> str:
    """How the history names a routine, so `--resume` finds it again from any folder: a
    built-in's name or a technique id as given, a file by its absolute path."""
    if isinstance(spec, str):
        from .catalog import builtin_routines, is_technique

        if spec in builtin_routines() or is_technique(spec):
            return spec
        return str(Path(spec).resolve())
    return str(routine.path.resolve()) if routine.path else routine.title


def recorder(
    spec: str | Routine, routine: Routine, settings: Settings, start_at: int | None
) -> history.Recorder:
    """The session's history, its row written once the first sound plays."""
    return history.Recorder(
        routine=routine_key(spec, routine),
        title=routine.title,
        routine_hash=history.routine_hash(routine.path, repr(routine)),
        engine=settings.engine,
        voice=settings.voice,
        rate=settings.rate,
        pace=settings.pace,
        detail=settings.detail,
        first_technique=start_at or 1,
        titles=tuple(t.title for t in routine.techniques),
    )


def outcome(exc: BaseException) -> history.Outcome:
    """How a session that raised `exc` ended: a signal by its name, a reader that went away
    (`play | head -1`) as the output closed, not as a crash."""
    from .streams import StreamError

    if isinstance(exc, AudioDeviceError):
        return "device-lost"
    if isinstance(exc, StreamError) and exc.reader_gone:
        return "output-closed"
    if isinstance(exc, Terminated):
        return "hung-up" if exc.signal == "SIGHUP" else "terminated"
    return "crashed" if isinstance(exc, Exception) else "interrupted"


@dataclass(frozen=True, slots=True)
class Resume:
    """What `play --resume` plays: the routine, from which technique, and as it was played
    (the command line may still change any of these)."""

    routine: str
    start_at: int | None
    """The technique to resume at; None: it stopped in the opening, which plays again whole."""
    rate: int | None
    voice: str | None
    engine: str | None
    pace: float | None
    detail: str | None = None


def resume_point(spec: str | None = None) -> Resume:
    """The last session (of `spec`, if given), when it did not finish, and the technique it
    stopped in. A routine changed since is followed by the technique's title; one that no
    longer has it is refused, as is a session that finished or stopped in its closing."""
    key = routine_key(spec, load_routine(spec)) if spec is not None else None
    last = history.resume_point(key)
    of = f" of {spec}" if spec else ""
    if last is None:
        raise UsageError(f"nothing to resume: the last session{of} finished, or there is none")
    n = last.technique
    if n > last.techniques:
        raise UsageError(
            f"nothing to resume: the last session{of} ({last.title}) stopped in its closing"
        )
    titles = [t.title for t in load_routine(last.routine).techniques]
    if n >= 1 and (n > len(titles) or titles[n - 1] != last.technique_title):
        if last.technique_title not in titles:
            raise UsageError(
                f"cannot resume {last.routine}: it no longer has the technique "
                f"{last.technique_title!r}; play it from the start"
            )
        n = titles.index(last.technique_title) + 1
    return Resume(
        last.routine, n or None, last.rate, last.voice, last.engine, last.pace, last.detail
    )


def still_here(engine: str | None, voice: str | None) -> str | None:
    """The voice a resumed session was played with, when `engine` can still speak with it
    here; else None (a warning says why), so the resume plays with the voice chosen now
    instead of refusing to carry on. An engine that is gone is left to `speech.choose`,
    which names the one that speaks instead."""
    from . import speech

    if engine is None or voice is None:
        return voice
    try:
        reason = speech.unavailable(engine)
        if reason is None:
            speech.resolve(engine, voice)
            return voice
    except (UsageError, SpeechError) as exc:
        reason = str(exc)
    logging.getLogger("voiceguide").warning(
        f"the last session's voice {voice!r} ({engine}) cannot speak here ({reason}); "
        "resuming with the voice chosen now"
    )
    return None


def stopped_line(last: history.Session) -> str:
    """What `play` prints after q: where it stopped, and how to carry on."""
    where = (
        f"at {last.technique_title} (technique {last.technique} of {last.techniques})"
        if 1 <= last.technique <= last.techniques
        else "in the opening"
        if last.technique == 0
        else "in the closing"
    )
    return f"Stopped {where}. To carry on from there: voiceguide play --resume"
