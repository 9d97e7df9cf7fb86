"""What a run is spoken and mixed with: the command line beats the routine file, which beats
the user's config, which beats the defaults."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import catalog
from ..compiler import SpeechMs
from ..config import Settings, resolve_settings
from ..language import Routine
from ..notices import warn_once
from .options import DEFAULT, Options

if TYPE_CHECKING:
    from ..ambience import Bed
    from ..config import SoundConfig
    from ..render import Mix

_log = logging.getLogger("voiceguide.api")


def load(routine: str | Routine) -> Routine:
    """A routine by built-in name or path (a Routine is taken as it is)."""
    return catalog.load_routine(routine) if isinstance(routine, str) else routine


def settings_for(routine: Routine, options: Options = DEFAULT) -> Settings:
    """The settings a routine is spoken with, its engine chosen (see `speech.choose`)."""
    settings = resolve_settings(
        rate=options.rate,
        voice=options.voice,
        routine_rate=routine.rate,
        routine_voice=routine.voice,
        engine=options.engine,
        routine_engine=routine.engine,
        pace=options.pace,
        routine_pace=routine.pace,
        detail=options.detail,
    )
    engine, warning = _choose(settings.engine, settings.voice)
    if warning:  # why it is not the engine asked for
        warn_once("voiceguide.api", warning)
    return replace(settings, engine=engine)


@functools.cache
def _choose(requested: str | None, voice: str) -> tuple[str, str | None]:
    from ..speech import choose

    return choose(requested, voice)


def refuse_unknown_voice(routine: Routine, settings: Settings, voice: str | None = None) -> None:
    """Refuse a voice the engine does not have before any work: one line naming where it was
    asked for (the routine file or the config file, and the key), and the close matches."""
    from ..config import config_path
    from ..errors import Problem, RoutineError, UsageError
    from ..speech import resolve

    engine = settings.engine or "natural"
    try:
        if warning := _english_words(engine, resolve(engine, settings.voice)):
            warn_once("voiceguide.api", warning)
    except UsageError as exc:
        message = str(exc) + _elsewhere(engine, settings.voice)
        if voice is not None:  # from the command line: the message says it all
            raise UsageError(message) from exc
        where = routine.source if routine.voice else str(config_path())
        raise RoutineError([Problem(where, "voice", message)]) from exc
    refuse_unsayable(routine, settings)


@functools.cache
def _english_words(engine: str, voice_id: str) -> str | None:
    """The warning (said once a run) when a voice of another language reads voiceguide's own
    words, which are English (the opening and closing, counts and time-left cues, the
    built-in techniques), by its own language's rules; None for a voice that speaks English."""
    from ..speech import list_voices

    info = next((v for v in list_voices(engine) if v.id == voice_id), None)
    if info is None or not info.languages:
        return None
    if any(language.casefold().startswith("en") for language in info.languages):
        return None
    return (
        f"the {engine} voice {info.name!r} ({', '.join(info.languages)}) reads voiceguide's "
        "own words, which are English (the opening and closing, counts, time-left cues, the "
        "built-in techniques), by its own language's rules"
    )


def _elsewhere(engine: str, voice: str) -> str:
    """Where else a voice the engine lacks is: the other engine that has it, or the closest
    voices of the others ("hart": natural's "heart"), each with the --engine that speaks it."""
    import difflib

    from ..config import ENGINES
    from ..errors import UsageError
    from ..speech import list_voices, resolve, unavailable

    others = [e for e in ENGINES if e != engine and unavailable(e) is None]
    for other in others:
        try:
            found = resolve(other, voice)
        except UsageError:
            continue
        return f"; the {other} engine has it ({found}): add --engine {other}"
    labels = {
        label.casefold(): (label, other)
        for other in others
        for v in list_voices(other)
        for label in (v.id, v.name, *v.languages)
    }
    close = difflib.get_close_matches(voice.strip().casefold(), list(labels), n=2, cutoff=0.75)
    shown = [f"{labels[c][0]!r} (--engine {labels[c][1]})" for c in close]
    return f"; in other engines: {', '.join(shown)}" if shown else ""


def refuse_unsayable(routine: Routine, settings: Settings) -> None:
    """Refuse a cue no voice here can say, and say once which voice says the cues the
    engine's own cannot read (`speech.scripts`): `check` answers as `export` will."""
    from ..compiler import compile_routine, cue_texts
    from ..errors import Problem, RoutineError, SpeechError
    from ..speech import routes
    from ..speech.base import cue

    engine = settings.engine or "natural"
    texts = cue_texts(routine, settings.pace, 1, settings.detail)
    try:
        found = routes(engine, settings.voice, texts)
    except SpeechError as exc:
        raise RoutineError([Problem(routine.source, "", str(exc))]) from exc
    if found:  # an error still to come (the length limit) goes first, and alone
        compile_routine(routine, estimate(settings), pace=settings.pace, detail=settings.detail)
    for who, said in found.items():
        _log.warning(
            f"{routine.source}: {who} says {len(said)} cue(s) the {engine} voice cannot read, "
            f"first {cue(said[0])}"
        )


def estimate(settings: Settings) -> SpeechMs:
    """The engine's length model at the settings' rate: no synthesis."""
    from ..speech import length_model

    return length_model(settings.engine or "natural", settings.rate)


def mix_for(routine: Routine, options: Options = DEFAULT) -> Mix:
    """How the routine sounds beyond its words: loudness and mono from the command line, else
    the config, else -16 LUFS in stereo; the bed as `bed` finds it, at `ambience_level` from
    the command line, else the routine's, else the config's, else -18 LU against the voice;
    `pan = false` in the routine keeps every cue centred."""
    from ..config import AMBIENCE_LEVEL, TARGET_LUFS, sound_config
    from ..render import Mix

    config = sound_config()
    loudness, mono = options.loudness, options.mono
    levels = (options.ambience_level, routine.ambience_level, config.ambience_level, AMBIENCE_LEVEL)
    return Mix(
        loudness=loudness if loudness is not None else config.loudness or TARGET_LUFS,
        bed=bed(routine, options.ambience, config),
        bed_level=next(level for level in levels if level is not None),
        stereo=not (mono if mono is not None else config.mono or False),
        pan=routine.pan,
    )


def bed(
    routine: Routine, ambience: str | None = None, config: SoundConfig | None = None
) -> Bed | None:
    """The bed under the routine: `ambience` (from the command line: a name, "off", or a WAV
    wherever it is), else the routine's (a WAV inside its folder), else the config's (a WAV
    inside the config folder), else none. `config`: the config file's sound
    settings, when the caller has read them already."""
    from .. import ambience as beds
    from ..config import config_dir, config_path, sound_config

    folders = [routine.path.parent] if routine.path else []
    if ambience is not None:
        return beds.load(ambience, [Path.cwd()], "--ambience", None)
    if routine.ambience is not None:
        return beds.load(routine.ambience, folders, f"{routine.source}: ambience", folders)
    value = (config or sound_config()).ambience
    if value is None:
        return None
    return beds.load(value, [config_dir()], f"{config_path()}: ambience", [config_dir()])


def input_files(routine: Routine) -> list[Path]:
    """The files a run of `routine` reads: its file, every sound it may play, the config."""
    from ..language import Chime

    files = [routine.path] if routine.path else []
    files += [
        Path(step.sound)
        for technique in routine.techniques
        for step in technique.steps
        if isinstance(step, Chime) and Path(step.sound).is_absolute()
    ]
    return [*files, *program_files()]


def program_files() -> list[Path]:
    """The files every run reads, whatever it plays: the shipped sounds (chimes and beds) and
    the config."""
    from .. import sounds
    from ..config import config_path

    return [*sounds.shipped_files(), config_path()]
