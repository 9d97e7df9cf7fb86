"""Cues to clips (cached clips first, the engine for the rest) and the timeline laid out on
the clips' real lengths."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..compiler import compile_routine, compile_sections, cue_texts
from ..config import Settings
from ..language import Routine
from ..timeline import Section, Timeline
from .options import DEFAULT, Options
from .settings import estimate, load, refuse_unknown_voice, settings_for

if TYPE_CHECKING:
    from ..speech import Synthesizer
    from ..store import ClipStore

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total): stage "speech" counts clips, "audio" milliseconds."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A routine compiled against its real clips: everything render needs."""

    timeline: Timeline
    clips: ClipStore
    """On disk, a few in memory; close it when done (or let it be collected)."""
    settings: Settings


def compile(
    routine: str | Routine, options: Options = DEFAULT, *, estimate_only: bool = False
) -> Timeline:
    """Load (a built-in name or a path) and compile, with real clip lengths unless told not to.
    Either way a voice the engine does not have is refused first. `options.listen`: the
    timeline of a session that listens (its opening says what to say)."""
    routine = load(routine)
    if estimate_only:
        settings = settings_for(routine, options)
        refuse_unknown_voice(routine, settings, options.voice)
        return compile_routine(
            routine,
            estimate(settings),
            pace=settings.pace,
            detail=settings.detail,
            listening=options.listen is True,
        )
    prepared = prepare(routine, options)
    prepared.clips.close()
    return prepared.timeline


def prepare(
    routine: str | Routine,
    options: Options = DEFAULT,
    *,
    progress: Progress | None = None,
    engine: Synthesizer | None = None,
    start_at: int | None = None,
) -> Prepared:
    """Synthesize every cue (cached clips first), then compile against the real clip lengths.

    The length limit applies to the estimated length, as `check` shows it, and is checked
    first: a routine refused is never synthesized. The clips stay on disk (store.py).
    `start_at` n resumes at technique n, as `playing` does: only its cues are made."""
    routine = load(routine)
    settings, texts = _planned(routine, options, engine, start_at)
    listening = options.listen is True
    with engine_for(engine, settings) as synthesizer:
        clips = store(synthesizer)
        try:
            Arriving(texts, synthesizer, settings, clips, progress).rest()
        except BaseException:
            clips.close()
            raise
    timeline = compile_routine(
        routine,
        clips.length_ms,
        limit=False,
        pace=settings.pace,
        start_at=start_at,
        detail=settings.detail,
        listening=listening,
    )
    return Prepared(timeline, clips, settings)


@dataclass(frozen=True, slots=True)
class Unfolding:
    """A routine compiled as it is synthesized: `sections` lays each out once its own cues
    are made, so the first can be rendered and written while later cues are still spoken."""

    title: str
    sections: Iterator[Section]
    clips: ClipStore
    settings: Settings
    expected_ms: int
    """The estimated length: what a progress bar counts to before the last section is known."""


@contextlib.contextmanager
def unfolding(
    routine: str | Routine,
    options: Options = DEFAULT,
    *,
    progress: Progress | None = None,
    engine: Synthesizer | None = None,
    start_at: int | None = None,
) -> Iterator[Unfolding]:
    """`prepare`, section by section: the same checks first, the same clips in the same order
    (every cue is still made and cached, those the layout never asks for at the end), the
    same sections. The engine runs until the context ends."""
    routine = load(routine)
    settings, texts = _planned(routine, options, engine, start_at)
    listening = options.listen is True
    expected = estimated_ms(routine, settings, start_at, listening)
    with engine_for(engine, settings) as synthesizer, store(synthesizer) as clips:
        arriving = Arriving(texts, synthesizer, settings, clips, progress)

        def sections() -> Iterator[Section]:
            yield from compile_sections(
                routine,
                arriving.length,
                limit=False,
                pace=settings.pace,
                start_at=start_at,
                detail=settings.detail,
                listening=listening,
            )
            arriving.rest()

        yield Unfolding(routine.title, sections(), clips, settings, expected)


class Arriving:
    """The engine's clips for `texts` as they come, each put into `clips` (and counted to
    `progress`): the length of a cue waits only for the clips up to it."""

    def __init__(
        self,
        texts: Sequence[str],
        synthesizer: Synthesizer,
        settings: Settings,
        clips: ClipStore,
        progress: Progress | None = None,
    ) -> None:
        self._made = zip(texts, synthesizer.synthesize(texts, settings), strict=True)
        self._synthesizer, self._settings, self._clips = synthesizer, settings, clips
        self._progress, self._total, self._count = progress, len(texts), 0

    def _take(self) -> bool:
        done = next(self._made, None)
        if done is None:
            return False
        text, clip = done
        self._clips.add(text, clip, clip_entry(self._synthesizer, text, self._settings))
        self._count += 1
        if self._progress is not None:
            self._progress("speech", self._count, self._total)
        return True

    def length(self, text: str) -> int:
        """`text`'s clip length in ms, once its clip has come (clips come in first-use order)."""
        while text not in self._clips and self._take():
            pass
        return self._clips.length_ms(text)

    def rest(self) -> None:
        """Take every clip still to come (all of them, or those the layout did not ask for:
        they are cached too)."""
        while self._take():
            pass


def estimated_ms(
    routine: Routine, settings: Settings, start_at: int | None, listening: bool
) -> int:
    """How long a run of `routine` will be, from the estimated length of every cue."""
    return compile_routine(
        routine,
        estimate(settings),
        pace=settings.pace,
        start_at=start_at,
        detail=settings.detail,
        listening=listening,
    ).duration


def _planned(
    routine: Routine, options: Options, engine: Synthesizer | None, start_at: int | None
) -> tuple[Settings, tuple[str, ...]]:
    """What a run of `routine` will say and how, refused before any synthesis where it would
    fail later: its settings and every cue text."""
    settings = settings_for(routine, options)
    if engine is None:
        refuse_unknown_voice(routine, settings, options.voice)
    check_before_synthesis(routine, settings)
    check_start(routine, start_at)
    listening = options.listen is True
    return settings, cue_texts(routine, settings.pace, start_at, settings.detail, listening)


def check_before_synthesis(routine: Routine, settings: Settings) -> int:
    """Raise what would stop the run later, before anything is synthesized: the length limit
    (on the estimate: the same line `check` gives) and a bad cache limit. The estimated ms."""
    from ..cache import configured_limit_mb

    configured_limit_mb()
    return compile_routine(
        routine, estimate(settings), pace=settings.pace, detail=settings.detail
    ).duration


def check_start(routine: Routine, start_at: int | None) -> None:
    """Refuse a technique to start at that the routine does not have, before any work."""
    from ..errors import UsageError

    count = len(routine.techniques)
    if start_at is not None and not 1 <= start_at <= count:
        raise UsageError(
            f"{routine.source}: cannot start at technique {start_at}; it has {count} "
            f"technique(s), so start at 1 to {count}"
        )


def store(synthesizer: Synthesizer) -> ClipStore:
    """A store for the run's clips, beside the clip cache when there is one."""
    from ..cache import CachedSynthesizer
    from ..store import ClipStore

    return ClipStore(synthesizer.cache if isinstance(synthesizer, CachedSynthesizer) else None)


def audio_folder(synthesizer: Synthesizer) -> Path | None:
    """Where the player's audio files go: beside the clip cache (on disk) when there is one."""
    from ..cache import CachedSynthesizer
    from ..tape import folder_near

    if isinstance(synthesizer, CachedSynthesizer):
        return folder_near(synthesizer.cache.directory)
    return None


def clip_entry(synthesizer: Synthesizer, text: str, settings: Settings) -> Path | None:
    from ..cache import CachedSynthesizer

    if isinstance(synthesizer, CachedSynthesizer):
        return synthesizer.entry(text, settings)
    return None


@contextlib.contextmanager
def engine_for(
    engine: Synthesizer | None, settings: Settings, workers: int | None = None
) -> Iterator[Synthesizer]:
    """The given engine, or the real one behind the clip cache (its workers start only on a
    cache miss, and stop when the work is done)."""
    if engine is not None:
        yield engine
        return
    from ..cache import CachedSynthesizer, ClipCache
    from ..speech import open_engine

    with open_engine(settings.engine or "natural", workers) as real:
        yield CachedSynthesizer(real, ClipCache())
