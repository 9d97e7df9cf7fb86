"""Speech: engines that turn cue text into clips, behind one small interface (`Synthesizer`).

Three engines, one module each: `natural` (hibari-tts, the default for English), `espeak`
(espeak-ng: fastest, 130 languages) and `system` (pyttsx3's own driver: SAPI5, macOS's voices,
espeak-ng). Each maps `--rate` (words per minute heard) to its own speed control and has its
own length model (`rates`); every clip ends the same way (`finish`). Importing this package is
light: no numpy and no engine until one is opened.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

from ..config import ENGINES as ENGINES
from ..errors import SpeechError, UsageError
from ..estimate import MAX_CHARS as MAX_CHARS
from ..estimate import clean_text as clean_text
from .base import Engine as Engine
from .base import Synthesizer as Synthesizer
from .base import VoiceInfo as VoiceInfo
from .base import resolve_voice as resolve_voice
from .fake import FakeSynthesizer as FakeSynthesizer
from .rates import estimate_ms as engine_estimate_ms

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def unavailable(name: str) -> str | None:
    """Why engine `name` cannot speak on this machine, or None; cheap (nothing is loaded)."""
    if name == "natural":
        from .natural import unavailable as natural

        return natural()
    if name == "espeak":
        if sys.platform == "win32":
            return "espeak-ng's engine runs on Linux and macOS only"
        from .espeak import unavailable as espeak

        return espeak()
    if name == "system":
        from .system import unavailable as system

        return system()
    raise UsageError(f"unknown engine {name!r}; the engines are: {', '.join(ENGINES)}")


def speaks_english(voice: str) -> bool:
    wanted = voice.strip().casefold().replace("_", "-")
    return wanted in ("en", "english", "heart", "emma", "fenrir", "fable", "kore") or (
        wanted.startswith(("en-", "gmw/en"))
    )


def choose(requested: str | None, voice: str) -> tuple[str, str | None]:
    """The engine that speaks, and a warning when it is not the one asked for.

    Default: `natural` for an English voice, else `espeak` where it runs, else `system`."""
    if requested is not None and requested not in ENGINES:
        raise UsageError(f"unknown engine {requested!r}; the engines are: {', '.join(ENGINES)}")
    order = [e for e in ENGINES if e != "natural" or speaks_english(voice)]
    if requested is not None:
        reason = unavailable(requested)
        if reason is None:
            return requested, None
        for other in order:
            if other != requested and unavailable(other) is None:
                return other, f"{reason}; the {other} engine speaks instead"
        raise SpeechError(f"{reason}, and no other speech engine works here")
    reasons: list[str] = []
    for name in order:
        reason = unavailable(name)
        if reason is None:
            if reasons and name != "espeak":
                return name, f"{reasons[0]}; the {name} engine speaks instead"
            return name, None
        reasons.append(reason)
    raise SpeechError(f"no speech engine works here: {'; '.join(reasons)}")


def open_engine(name: str, workers: int | None = None, *, routed: bool = True) -> Engine:
    """A running engine (its workers start on first use); close it when done. `routed`: cues
    in a script its voice cannot read go to the espeak-ng voice that can (`scripts`)."""
    engine: Engine
    if name == "natural":
        from .natural import NaturalEngine

        engine = NaturalEngine(workers)
    elif name == "espeak":
        from .espeak import EspeakEngine

        engine = EspeakEngine(workers)
    elif name == "system":
        from .system import SystemEngine

        engine = SystemEngine(workers)
    else:
        raise UsageError(f"unknown engine {name!r}; the engines are: {', '.join(ENGINES)}")
    if not routed:
        return engine
    from .routed import Routed

    return Routed(engine, workers)


def routes(engine: str, voice: str, texts: Sequence[str]) -> dict[str, list[str]]:
    """Which of `texts` another voice says (`scripts.route`): for each such voice, e.g. "the
    espeak-ng voice 'ru' (Cyrillic letters)", its texts. Raises SpeechError, naming the text,
    for one no voice here can say: what `check` reports, and `export` would."""
    from .base import cue
    from .scripts import route

    espeak = unavailable("espeak") is None
    found: dict[str, list[str]] = {}
    for text in texts:
        try:
            other = route(engine, voice, text, espeak)
        except SpeechError as exc:
            raise SpeechError(f"{cue(text)}: {exc}") from None
        if other is not None:
            key = f"the espeak-ng voice {other.voice!r} ({other.script} letters)"
            found.setdefault(key, []).append(text)
    return found


def length_model(engine: str, rate: int) -> Callable[[str], int]:
    """How long `engine` takes to say a text at `rate` words per minute heard (an estimate)."""
    return lambda text: engine_estimate_ms(engine, text, rate)


def resolve(engine: str, voice: str) -> str:
    """The id of `voice` in `engine`; UsageError listing close matches when it has none."""
    if engine == "natural":
        from .natural import resolve_natural

        return resolve_natural(voice, list_voices(engine))
    return resolve_voice(voice, list_voices(engine), engine)


@functools.cache
def list_voices(engine: str) -> tuple[VoiceInfo, ...]:
    """The engine's voices (asked of a worker once per process, except natural's: on disk)."""
    if engine == "natural":
        from .natural import installed_voices

        return installed_voices()
    with open_engine(engine, workers=1) as running:
        return running.voices()
