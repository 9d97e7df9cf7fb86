"""One error base with exit codes; only the CLI turns these into messages and exits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Terminated(KeyboardInterrupt):
    """A signal asked the process to end (SIGTERM; SIGHUP: its terminal was closed): it
    unwinds like Ctrl-C, and says which signal it was (the history keeps the difference)."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    """128 + SIGPIPE: what a shell reports for a command whose reader has gone (`| head -1`)."""


class VoiceguideError(Exception):
    """Something the user can act on; `str()` is the whole message, one line per problem."""

    exit_code: int = ExitStatus.ERROR


@dataclass(frozen=True, slots=True)
class Problem:
    """Where (file, place) and what: `evening.toml: technique 2, step 3: hold must be ...`."""

    file: str
    place: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.place, self.message) if part)


class RoutineError(VoiceguideError):
    """A routine or technique file is wrong; carries every problem found, not just the first."""

    exit_code = ExitStatus.BAD_INPUT

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(VoiceguideError):
    """A bad argument or option value (unknown routine, voice, rate out of range)."""

    exit_code = ExitStatus.BAD_INPUT


class SpeechError(VoiceguideError):
    """The speech engine is missing, crashed, or produced a clip that cannot be right."""


class AudioDeviceError(VoiceguideError):
    """No usable sound device for live playback."""


class CacheError(VoiceguideError):
    """The cache could not do what was asked of it (`cache clear` on a folder it may not
    change); synthesis never raises it, it goes on without the cache."""


class ExportError(VoiceguideError):
    """An export could not be written; nothing was left behind."""
