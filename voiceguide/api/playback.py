"""Play a routine aloud while it is being made: the first section sounds while the rest is
still synthesized and rendered."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from ..compiler import cue_texts
from ..config import Settings
from ..language import Routine
from .listening import listening
from .options import DEFAULT, Options
from .settings import load, mix_for, refuse_unknown_voice, settings_for
from .synthesis import (
    Arriving,
    audio_folder,
    check_before_synthesis,
    check_start,
    engine_for,
    estimated_ms,
    store,
)
from .threads import background

if TYPE_CHECKING:
    from ..player import Player
    from ..program import Program
    from ..render import Mix, Samples
    from ..sink import Clock, Sink
    from ..speech import Synthesizer


def session_detail(spec: str | Routine, routine: Routine, detail: str) -> str:
    """The detail a session of `routine` has, `detail` having come from the config or the
    default: full the first time it is played and after a long break, whatever is set."""
    if detail == "full":
        return detail
    from .. import history
    from ..session import routine_key

    return "full" if history.needs_full(routine_key(spec, routine)) else detail


@contextlib.contextmanager
def playing(
    routine: str | Routine,
    options: Options = DEFAULT,
    *,
    start_at: int | None = None,
    record: bool = True,
    sink: Sink | None = None,
    clock: Clock | None = None,
    engine: Synthesizer | None = None,
) -> Iterator[Player]:
    """A Player for the routine, its audio being made in the background from the first cue on.

    Drive it with `player.run(...)`, or `tick()` and `press()`. The device is checked before any
    synthesis, so a missing one fails at once. `start_at` n resumes at technique n (None:
    from the start).
    `record` writes the session into the history (history/), as it goes. Unless
    `options.detail` is given, the first session with a routine, and the first after a long
    break, is full.
    """
    import os

    from ..player import Controls, Player
    from ..program import Program
    from ..render import Renderer, placed, speech, to_pcm16
    from ..sink import SimpleaudioSink, SystemClock

    spec = routine
    routine = load(routine)
    check_start(routine, start_at)
    settings = settings_for(routine, options)
    if options.detail is None and record:
        settings = replace(settings, detail=session_detail(spec, routine, settings.detail))
    if engine is None:
        refuse_unknown_voice(routine, settings, options.voice)
    check_before_synthesis(routine, settings)
    mix = mix_for(routine, options)
    clock = clock or SystemClock()
    sink = sink or SimpleaudioSink(clock)
    sink.check()
    controls = Controls()
    with (
        listening(controls, options) as gate,
        engine_for(engine, settings) as synthesizer,
        engine_for(engine, settings, workers=1) as confirmations,
    ):
        listens = gate is not None  # and the opening says what to say
        expected = estimated_ms(routine, settings, start_at, listens)
        program = Program(
            routine.title,
            expected_ms=expected,
            folder=audio_folder(synthesizer),
            fill=Renderer({}, settings.volume, mix).filler,  # "+": more bed, or silence
        )
        background(_produce, routine, settings, mix, synthesizer, program, start_at, listens)

        def speak(text: str) -> Samples:
            clip = next(iter(confirmations.synthesize([text], settings)))
            return to_pcm16(placed(speech(clip, mix.loudness) * settings.volume, mix))

        player = Player(program, sink, clock, speak, controls=controls, quiet=gate)
        if wait := os.environ.get("VOICEGUIDE_DEVICE_WAIT_S"):  # tests: a shorter wait
            player.heard.stuck_s = float(wait)
        from .. import session

        recorder = session.recorder(spec, routine, settings, start_at) if record else None
        if recorder is not None:
            player.on_section = recorder.entered
            player.on_control.append(recorder.heard)
            player.on_safety.append(recorder.hurt)
        try:
            yield player
        except BaseException as exc:
            if recorder is not None:
                recorder.end(session.outcome(exc))
            raise
        else:
            if recorder is not None:
                finished = player.state == "done" and not player.quitting
                recorder.end("finished" if finished else "quit")
        finally:
            player.close()


def _produce(
    routine: Routine,
    settings: Settings,
    mix: Mix,
    synthesizer: Synthesizer,
    program: Program,
    start_at: int | None = None,
    listening: bool = False,
) -> None:
    """Synthesize, compile and render section by section, so the first plays while the rest is
    still being made: the opening's first cue even before the rest of the opening (it is the
    opening's start, rendered apart; the opening then grows from there). Runs in its own
    thread; errors go to the player through `program`."""
    from ..compiler import compile_sections, opening_lead
    from ..render import Renderer

    try:
        texts = cue_texts(routine, settings.pace, start_at, settings.detail, listening)
        with store(synthesizer) as clips:
            length = Arriving(texts, synthesizer, settings, clips).length
            renderer = Renderer(clips, settings.volume, mix)
            lead = opening_lead(routine, length, start_at=start_at)
            program.add(lead, renderer.blocks(lead))
            sections = compile_sections(
                routine,
                length,
                limit=False,
                pace=settings.pace,
                start_at=start_at,
                detail=settings.detail,
                listening=listening,
            )
            opening = next(sections)
            if opening.events[0] != lead.events[0]:
                raise RuntimeError("the opening does not start with its first cue")
            rest = replace(
                opening, start=lead.end, duration=opening.end - lead.end, events=opening.events[1:]
            )
            program.grow(opening, renderer.blocks(rest))
            for section in sections:
                program.add(section, renderer.blocks(section))
        program.finish()
    except BaseException as exc:  # handed to the player, which raises it in the main thread
        program.finish(exc)
