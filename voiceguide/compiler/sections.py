"""What each section says, in order: the opening (or a resumed session's), each technique,
the closing."""

from __future__ import annotations

from dataclasses import replace

from .. import phrases
from ..language import Breathe, Chime, Hold, Posture, Rest, Routine, Say
from ..lint import definition_warnings
from ..timeline import Section
from .layout import GAP_MS, LEAD_QUIET_MS, Layout, SpeechMs
from .numbers import words


def _fill(text: str, side: str | None) -> str:
    return text.replace("{side}", side) if side is not None else text


def technique(
    routine: Routine,
    n: int,
    before: Posture | None,
    start: int,
    speech_ms: SpeechMs,
    pace: float = 1.0,
    brief: bool = False,
) -> Section:
    t = routine.techniques[n - 1]
    place = f"{routine.source}: technique {n}" + (f" ({t.id})" if t.id else "")
    s = Layout(speech_ms, start, pace, technique=t.title, place=place, shipped=t.shipped)
    moving = phrases.moved(before, t.posture)
    if moving and before is not None and t.posture is not None:  # at the start: the opening
        s.speak(phrases.MOVE[t.posture])
    s.speak(f"{t.title}.")
    position = (brief and t.brief_position) or t.position
    if position:
        s.speak(_fill(position, t.sides[0] if t.sides else None))
    safety = (brief and t.brief_safety) or t.safety
    if safety:
        s.speak(_fill(safety, t.sides[0] if t.sides else None))
    quiet = phrases.transition_ms(routine, t, before)
    if quiet:
        moved_from = moving and before is not None
        s.rest(quiet, f"move to the {t.posture}" if moved_from else "get into position")
    s.chime("technique-start")
    for i, side in enumerate(t.sides or (None,)):
        s.side = side
        if side is not None and i == 0 and len(t.sides) > 1:
            s.speak(f"Start with the {side} side.")
        elif side is not None and i > 0:
            s.chime("switch-side")
            s.speak(f"Now the {side} side.")
        for rep in range(t.reps):
            if rep > 0:
                s.speak(f"Round {words(rep + 1)} of {words(t.reps)}.")
            for step in t.steps:
                match step:
                    case Say(text):
                        s.speak(_fill(text, side))
                    case Hold():
                        s.hold(Hold(step.ms, step.text and _fill(step.text, side)))
                    case Breathe():
                        s.breathe(
                            Breathe(step.direction, step.ms, step.text and _fill(step.text, side))
                        )
                    case Rest(ms):
                        s.rest(ms)
                    case Chime(sound):
                        s.chime(sound)
    s.side = None
    s.speak("And release.")
    return s.close(t.title, phrases.postures(routine)[n - 1])


def opening_lead(routine: Routine, speech_ms: SpeechMs, *, start_at: int | None = None) -> Section:
    """The opening's first cue alone (the routine's title, or where a resumed session picks
    up), placed where the opening places it, and LEAD_QUIET_MS of the quiet after it: what a
    player can sound while the rest of the opening is made. The opening's next cue starts
    GAP_MS after it, so nothing else sounds in the lead, nor dips a bed there."""
    if start_at is None:
        text = f"{routine.title}."
    else:
        text = phrases.resuming(routine, routine.techniques[start_at - 1])
    cue = Layout(speech_ms, 0).speak(text)
    posture = _first_posture(routine, start_at)
    title = _opening_title(start_at is not None)
    return Section(title, 0, cue.end + LEAD_QUIET_MS, (cue,), None, (), posture)


def _opening_title(resumed: bool) -> str:
    return "Resuming" if resumed else "Introduction"


def _first_posture(routine: Routine, start_at: int | None) -> Posture | None:
    """Where the body is when the opening ends: at the technique resumed, or the first."""
    if start_at is None:
        return phrases.first_posture(routine)
    return phrases.postures(routine)[start_at - 1]


def preamble(
    routine: Routine, speech_ms: SpeechMs, brief: bool = False, listening: bool = False
) -> Section:
    """Title, what to fetch, the safety warning (and what to say, when listening), the sounds
    this routine uses, and into the first posture. Warnings about the routine's definitions
    ride on this first section. Brief: the safety warning in one sentence, the commands in
    one, and the sounds taken as known."""
    s = Layout(speech_ms, 0)
    s.warnings += definition_warnings(routine)
    s.speak(f"{routine.title}.")
    needs = phrases.needs_sentence(phrases.equipment(routine))
    if needs:
        s.speak(needs)
    for text in (phrases.SAFETY_BRIEF,) if brief else phrases.SAFETY:
        s.speak(text)
    if listening:
        s.speak(phrases.LISTENING_BRIEF if brief else phrases.LISTENING)
    if not brief:
        s.speak(phrases.SOUNDS_INTRO)
        for sound in phrases.sounds_used(routine):
            s.speak(phrases.SOUND_GUIDE[sound])
            s.chime(sound, at=s.speech_free + 200)
    first = _first_posture(routine, None)
    s.speak(phrases.SETTLE[first])
    return s.close(_opening_title(False), first)


def resumed(routine: Routine, n: int, speech_ms: SpeechMs, listening: bool = False) -> Section:
    """The opening of a session resumed at technique n: where we are, safety in one sentence,
    what this part needs, and into its posture. The sounds are known by now."""
    s = Layout(speech_ms, 0)
    s.warnings += definition_warnings(routine)
    technique = routine.techniques[n - 1]
    s.speak(phrases.resuming(routine, technique))
    s.speak(phrases.SAFETY_BRIEF)
    if listening:
        s.speak(phrases.LISTENING_BRIEF)
    rest = replace(routine, techniques=routine.techniques[n - 1 :])
    needs = phrases.needs_sentence(phrases.equipment(rest))
    if needs:
        s.speak(needs)
    posture = _first_posture(routine, n)
    s.speak(phrases.SETTLE[posture])
    return s.close(_opening_title(True), posture)


def outro(routine: Routine, start: int, speech_ms: SpeechMs) -> Section:
    s = Layout(speech_ms, start)
    last = phrases.last_posture(routine)
    for text in (*phrases.CLOSING[last], phrases.SEE_SOMEONE):
        s.speak(text)
    s.chime("routine-end", at=s.speech_free + GAP_MS)
    return s.close("Closing", last)
