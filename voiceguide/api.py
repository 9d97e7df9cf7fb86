"""The library's entry points: what the CLI calls, usable on their own.

from voiceguide import api
timeline = api.compile("upper-back", rate=120)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import language, phrases
from .compiler import SpeechMs, compile_routine, cue_texts
from .config import Settings, resolve_settings
from .language import Routine
from .timeline import Timeline

if TYPE_CHECKING:
    from .ambience import Bed
    from .player import Player
    from .program import Program
    from .render import Samples
    from .sink import Clock, Sink
    from .speech import Synthesizer
    from .store import ClipStore

_log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total): stage "speech" counts clips, "audio" milliseconds."""


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


def settings_for(
    routine: Routine,
    *,
    rate: int | None = None,
    voice: str | None = None,
    engine_name: str | None = None,
) -> Settings:
    """The settings a routine is spoken with, its engine chosen (see `speech.choose`)."""
    settings = resolve_settings(
        rate=rate,
        voice=voice,
        routine_rate=routine.rate,
        routine_voice=routine.voice,
        engine=engine_name,
        routine_engine=routine.engine,
    )
    return replace(settings, engine=_choose(settings.engine, settings.voice))


@functools.cache
def _choose(requested: str | None, voice: str) -> str:
    """The engine that speaks; why it is not the one asked for is said once, as a warning."""
    from .speech import choose

    name, warning = choose(requested, voice)
    if warning:
        _log.warning(warning)
    return name


def refuse_unknown_voice(routine: Routine, settings: Settings, *, voice: str | None = None) -> None:
    """Refuse a voice the engine does not have before any work: one line naming where it was
    asked for (the routine file or the config file, and the key), and the close matches."""
    from .config import config_path
    from .errors import Problem, RoutineError, UsageError
    from .speech import resolve

    try:
        resolve(settings.engine or "natural", settings.voice)
    except UsageError as exc:
        if voice is not None:  # from the command line: the message says it all
            raise
        where = routine.source if routine.voice else str(config_path())
        raise RoutineError([Problem(where, "voice", str(exc))]) from exc


def estimate(settings: Settings) -> SpeechMs:
    """The engine's length model at the settings' rate: no synthesis."""
    from .speech import length_model

    return length_model(settings.engine or "natural", settings.rate)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A routine compiled against its real clips: everything render needs."""

    timeline: Timeline
    clips: ClipStore
    """On disk, a few in memory; close it when done (or let it be collected)."""
    settings: Settings


def _load(routine: str | Routine) -> Routine:
    return language.load_routine(routine) if isinstance(routine, str) else routine


def compile(
    routine: str | Routine,
    *,
    rate: int | None = None,
    voice: str | None = None,
    engine_name: str | None = None,
    estimate_only: bool = False,
) -> Timeline:
    """Load (a built-in name or a path) and compile, with real clip lengths unless told not to.
    Either way a voice the engine does not have is refused first."""
    routine = _load(routine)
    if estimate_only:
        settings = settings_for(routine, rate=rate, voice=voice, engine_name=engine_name)
        refuse_unknown_voice(routine, settings, voice=voice)
        return compile_routine(routine, estimate(settings))
    return prepare(routine, rate=rate, voice=voice, engine_name=engine_name).timeline


def prepare(
    routine: str | Routine,
    *,
    rate: int | None = None,
    voice: str | None = None,
    engine_name: str | None = None,
    progress: Progress | None = None,
    engine: Synthesizer | None = None,
    loudness: float | None = None,
) -> Prepared:
    """Synthesize every cue (cached clips first), then compile against the real clip lengths.
    `loudness` (LUFS) is the target the routine is rendered at (default: TARGET_LUFS).

    The length limit applies to the estimated length, as `check` shows it, and is checked
    first: a routine refused is never synthesized. The clips stay on disk (store.py)."""
    routine = _load(routine)
    settings = settings_for(routine, rate=rate, voice=voice, engine_name=engine_name)
    if loudness is not None:
        settings = replace(settings, loudness=loudness)
    if engine is None:
        refuse_unknown_voice(routine, settings, voice=voice)
    _check_before_synthesis(routine, settings)
    texts = cue_texts(routine)
    with _engine(engine, settings) as synthesizer:
        clips = _store(synthesizer)
        try:
            made = synthesizer.synthesize(texts, settings)
            for done, (text, clip) in enumerate(zip(texts, made, strict=True), 1):
                clips.add(text, clip, _entry(synthesizer, text, settings))
                if progress is not None:
                    progress("speech", done, len(texts))
        except BaseException:
            clips.close()
            raise
    timeline = compile_routine(routine, clips.length_ms, limit=False)
    return Prepared(timeline, clips, settings)


def _check_before_synthesis(routine: Routine, settings: Settings) -> int:
    """Raise what would stop the run later, before anything is synthesized: the length limit
    (on the estimate: the same line `check` gives) and a bad cache limit. The estimated ms."""
    from .cache import configured_limit_mb

    configured_limit_mb()
    return compile_routine(routine, estimate(settings)).duration


def _store(synthesizer: Synthesizer) -> ClipStore:
    """A store for the run's clips, beside the clip cache when there is one."""
    from .cache import CachedSynthesizer
    from .store import ClipStore

    return ClipStore(synthesizer.cache if isinstance(synthesizer, CachedSynthesizer) else None)


def _audio_folder(synthesizer: Synthesizer) -> Path | None:
    """Where the player's audio files go: beside the clip cache (on disk) when there is one."""
    from .cache import CachedSynthesizer
    from .tape import folder_near

    if isinstance(synthesizer, CachedSynthesizer):
        return folder_near(synthesizer.cache.directory)
    return None


def _entry(synthesizer: Synthesizer, text: str, settings: Settings) -> Path | None:
    from .cache import CachedSynthesizer

    if isinstance(synthesizer, CachedSynthesizer):
        return synthesizer.entry(text, settings)
    return None


@contextlib.contextmanager
def _engine(
    engine: Synthesizer | None, settings: Settings, workers: int | None = None
) -> Iterator[Synthesizer]:
    """The given engine, or the real one behind the clip cache (its workers start only on a
    cache miss, and stop when the work is done)."""
    if engine is not None:
        yield engine
        return
    from .cache import CachedSynthesizer, ClipCache
    from .speech import open_engine

    with open_engine(settings.engine or "natural", workers) as real:
        yield CachedSynthesizer(real, ClipCache())


def export(
    routine: str | Routine,
    audio: Path,
    *,
    rate: int | None = None,
    voice: str | None = None,
    engine_name: str | None = None,
    transcript: Path | None = None,
    progress: Progress | None = None,
    engine: Synthesizer | None = None,
    force: bool = False,
    loudness: float | None = None,
    ambience: str | None = None,
) -> Timeline:
    """Write the routine to `audio` (format from its suffix) and optionally a transcript.
    `force` replaces a read-only file; a file the export reads is never replaced.
    `ambience`: a bed's name, "off" or a WAV (see `bed`); None: the routine's or config's."""
    from . import export as exporter

    exporter.check_targets(audio, transcript, force=force)
    routine = _load(routine)
    exporter.check_inputs((audio, transcript), input_files(routine))
    bed_ = bed(routine, ambience)
    if bed_ is not None and Path(bed_.name).is_absolute():  # the user's own WAV
        exporter.check_inputs((audio, transcript), [Path(bed_.name)])
    _preload("numpy", "soundfile", "pyloudnorm")
    prepared = prepare(
        routine,
        rate=rate,
        voice=voice,
        engine_name=engine_name,
        progress=progress,
        engine=engine,
        loudness=loudness,
    )
    from .render import Renderer

    timeline = prepared.timeline
    with prepared.clips as clips:
        settings = prepared.settings
        renderer = Renderer(clips, settings.volume, settings.loudness, bed_)
        exporter.export(
            timeline,
            (renderer.blocks(section) for section in timeline.sections),
            audio,
            transcript=transcript,
            progress=progress and (lambda done, total: progress("audio", done, total)),
            force=force,
        )
    return timeline


def bed(routine: Routine, ambience: str | None = None) -> Bed | None:
    """The bed under the routine: `ambience` (from the command line: a name, "off", or a WAV
    inside the routine's folder or the config folder), else the routine's, else the config's
    (a WAV there is inside the config folder), else none."""
    from . import ambience as beds
    from .config import config_dir, config_path, read_config

    folders = [routine.path.parent] if routine.path else []
    if ambience is not None:
        return beds.load(ambience, [Path.cwd()], "--ambience", [*folders, config_dir()])
    if routine.ambience is not None:
        return beds.load(routine.ambience, folders, f"{routine.source}: ambience", folders)
    value = read_config().get("ambience")
    if value is None:
        return None
    where = f"{config_path()}: ambience"
    if not isinstance(value, str):
        from .errors import Problem, RoutineError

        raise RoutineError(
            [Problem(str(config_path()), "ambience", f"must be text, got {value!r}")]
        )
    return beds.load(value, [config_dir()], where, [config_dir()])


def input_files(routine: Routine) -> list[Path]:
    """The files a run of `routine` reads: its file, every sound it may play, the config."""
    from . import sounds
    from .config import config_path
    from .language import Chime

    files = [routine.path] if routine.path else []
    files += [
        Path(step.sound)
        for technique in routine.techniques
        for step in technique.steps
        if isinstance(step, Chime) and Path(step.sound).is_absolute()
    ]
    files += [sounds.sound_dir() / f"{name}.wav" for name in sounds.NAMES]
    return [*files, config_path()]


def _preload(*modules: str) -> None:
    """Import heavy modules in the background while speech workers start (they wait on pipes,
    so the two overlap); a later import then finds them ready."""
    import importlib

    for name in modules:
        _background(importlib.import_module, name)


def _background(target: Callable[..., object], *args: object) -> None:
    """Run `target` in a daemon thread that never receives Ctrl-C, SIGTERM or SIGHUP: they
    belong to the main thread, which holds off the signals while it starts a speech worker."""
    import signal
    import threading

    thread = threading.Thread(target=target, args=args, daemon=True)
    if not hasattr(signal, "pthread_sigmask"):  # Windows: signals go to the main thread anyway
        thread.start()
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {getattr(signal, n) for n in names})
    try:
        thread.start()  # a new thread starts with the mask of the one that starts it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def builtin_routines() -> list[Entry]:
    entries = []
    for name, path in language.builtin_routines().items():
        routine = language.read_routine(path)
        timeline = compile_routine(routine, estimate(settings_for(routine)))
        equipment = phrases.equipment(routine)
        entries.append(Entry(name, routine.title, timeline.duration, equipment))
    return entries


def builtin_techniques() -> list[Entry]:
    """The built-in techniques, then the user's own (from the config folder's techniques/)."""
    from .catalog import user_techniques

    entries = []
    own = user_techniques()
    for name, technique in [*language.builtin_techniques().items(), *own.items()]:
        alone = dataclasses.replace(technique, transition_ms=0)  # the technique's own length
        routine = Routine(technique.title, (alone,), transition_ms=0)
        timeline = compile_routine(routine, estimate(settings_for(routine)))
        length = timeline.sections[1].duration
        entries.append(Entry(name, technique.title, length, technique.equipment, name in own))
    return entries


@contextlib.contextmanager
def playing(
    routine: str | Routine,
    *,
    rate: int | None = None,
    voice: str | None = None,
    engine_name: str | None = None,
    sink: Sink | None = None,
    clock: Clock | None = None,
    engine: Synthesizer | None = None,
    loudness: float | None = None,
    ambience: str | None = None,
) -> Iterator[Player]:
    """A Player for the routine, its audio being made in the background from the first cue on.

    Drive it with `player.run(...)`, or `tick()` and `press()`. The device is checked before any
    synthesis, so a missing one fails at once.
    """
    import os

    from .player import Player
    from .program import Program
    from .render import Renderer, leveled_speech, to_pcm16
    from .sink import SimpleaudioSink, SystemClock

    _preload("pyloudnorm")  # the loudness meter (scipy) loads while the device and engine start
    routine = _load(routine)
    settings = settings_for(routine, rate=rate, voice=voice, engine_name=engine_name)
    if loudness is not None:
        settings = replace(settings, loudness=loudness)
    if engine is None:
        refuse_unknown_voice(routine, settings, voice=voice)
    expected = _check_before_synthesis(routine, settings)
    bed_ = bed(routine, ambience)
    clock = clock or SystemClock()
    sink = sink or SimpleaudioSink(clock)
    sink.check()
    with (
        _engine(engine, settings) as synthesizer,
        _engine(engine, settings, workers=1) as confirmations,
    ):
        program = Program(routine.title, expected_ms=expected, folder=_audio_folder(synthesizer))
        if bed_ is not None:  # "+" in a hold opens more of the bed, not a hole in it
            program.fill = Renderer(
                clips={}, volume=settings.volume, loudness=settings.loudness, ambience=bed_
            ).filler
        _background(_produce, routine, settings, synthesizer, program, bed_)

        def speak(text: str) -> Samples:
            clip = next(iter(confirmations.synthesize([text], settings)))
            return to_pcm16(leveled_speech(clip, settings.loudness) * settings.volume)

        player = Player(program, sink, clock, speak)
        if wait := os.environ.get("VOICEGUIDE_DEVICE_WAIT_S"):  # tests: a shorter wait
            player.heard.stuck_s = float(wait)
        try:
            yield player
        finally:
            player.close()


def _produce(
    routine: Routine,
    settings: Settings,
    synthesizer: Synthesizer,
    program: Program,
    bed_: Bed | None = None,
) -> None:
    """Synthesize, compile and render section by section, so the first plays while the rest is
    still being made. Runs in its own thread; errors go to the player through `program`."""
    from .compiler import compile_sections
    from .render import Renderer

    try:
        texts = cue_texts(routine)
        stream = zip(texts, synthesizer.synthesize(texts, settings), strict=True)
        with _store(synthesizer) as clips:

            def length(text: str) -> int:
                while text not in clips:  # clips arrive in first-use order
                    done, clip = next(stream)
                    clips.add(done, clip, _entry(synthesizer, done, settings))
                return clips.length_ms(text)

            renderer = Renderer(clips, settings.volume, settings.loudness, bed_)
            for section in compile_sections(routine, length, limit=False):
                program.add(section, renderer.blocks(section))
        program.finish()
    except BaseException as exc:  # handed to the player, which raises it in the main thread
        program.finish(exc)
