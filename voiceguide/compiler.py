"""Definitions + settings -> Timeline. Pure: the same inputs always give the same timeline.

All times are integer milliseconds at absolute offsets. Speech lengths come from one function
(`speech_ms`), real clip lengths when synthesis is available, an estimate otherwise; holds,
breaths and rests never depend on it. `pace` scales every hold, breath window, rest and
transition (never the speech); time-left cues are laid out for the scaled lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from . import phrases, sounds
from .errors import Problem, RoutineError
from .language import Breathe, Chime, Hold, Posture, Rest, Routine, Say
from .lint import definition_warnings
from .timeline import Event, Kind, Section, Timeline

SpeechMs = Callable[[str], int]

MAX_ROUTINE_MS = 3 * 3600 * 1000
GAP_MS = 600
"""Quiet after a cue before the next one: time to take it in."""
CHIME_GAP_MS = 250
BREATH_TAIL_MS = 300
"""The least quiet a breath window keeps after its cue."""
SECTION_GAP_MS = 1500
LEAD_QUIET_MS = GAP_MS // 2
"""The quiet that ends the opening's lead: half the gap to the next cue, no more than a bed's
dip reaches ahead of a cue (ambience.ATTACK_MS), so the lead renders as the opening would."""
COUNTDOWN = ((3, "Three."), (2, "Two."), (1, "One."))
BREATH_CUES = {"in": "Breathe in.", "out": "Breathe out.", "hold": "Hold your breath."}

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def words(n: int) -> str:
    """Numbers as words (0-999), so a cue reads the same to the engine, a transcript and a
    recognizer."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    rest = n % 100
    return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + words(rest))


def seconds_words(ms: int) -> str:
    s = max(1, round(ms / 1000))
    return "one second" if s == 1 else f"{words(s)} seconds"


def paced(ms: int, pace: float) -> int:
    """A quiet length at this pace, in whole milliseconds (never below one)."""
    return ms if pace == 1 else max(1 if ms else 0, round(ms * pace))


def time_left_cues(hold_ms: int) -> tuple[tuple[tuple[int, str], ...], ...]:
    """What may be announced inside a hold of this length, in groups that are spoken whole or
    not at all: ((ms before the hold's end, text), ...). A countdown is never half said."""
    groups: list[tuple[tuple[int, str], ...]] = []
    if hold_ms >= 50_000:
        groups.append(((30_000, "Thirty seconds left."),))
    if hold_ms >= 20_000:
        groups.append(((10_000, "Ten seconds left."),))
    if hold_ms >= 8_000:
        groups.append(tuple((s * 1000, text) for s, text in COUNTDOWN))
    return tuple(groups)


@dataclass(slots=True)
class _Section:
    """Lays out one section's events; keeps speech from overlapping speech."""

    speech_ms: SpeechMs
    start: int
    pace: float = 1.0
    """Scales holds, breath windows and rests (see `paced`)."""
    technique: str | None = None
    side: str | None = None
    place: str = ""
    """Where this section comes from, for warnings: "upper-back.toml: technique 2 (...)"."""
    last_breath: tuple[str, str] | None = None
    """The last breath cue's direction and text: in and out should alternate."""
    cursor: int = 0
    """Where the next step starts."""
    speech_free: int = 0
    """When the voice is free again."""
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shipped: bool = False
    """A shipped technique: windows its cues outgrow are lengthened without a warning."""

    def __post_init__(self) -> None:
        self.cursor = self.speech_free = self.start

    def add(
        self,
        start: int,
        duration: int,
        kind: Kind,
        text: str | None = None,
        name: str | None = None,
    ) -> Event:
        event = Event(start, duration, kind, text, name, self.technique, self.side)
        self.events.append(event)
        return event

    def speak(self, text: str, at: int | None = None) -> Event:
        start = max(self.cursor if at is None else at, self.speech_free)
        event = self.add(start, self.speech_ms(text), "speech", text)
        self.speech_free = event.end
        self.cursor = max(self.cursor, event.end + GAP_MS)
        return event

    def chime(self, name: str, at: int | None = None) -> Event:
        event = self.add(
            self.cursor if at is None else at, sounds.duration_ms(name), "chime", name=name
        )
        self.cursor = max(self.cursor, event.end + CHIME_GAP_MS)
        return event

    def hold(self, step: Hold) -> None:
        """The bell, the cue, time-left cues where they fit, the end bell: exactly the hold's
        length whatever the voice. A cue too long to fit after the bell (a slow voice, a short
        pace) is said before it instead, so the end bell never sounds under it."""
        step = Hold(paced(step.ms, self.pace), step.text)
        text = step.text or f"Hold for {seconds_words(step.ms)}."
        start = self.cursor
        spoken_at = max(start + sounds.duration_ms("hold-start"), self.speech_free)
        fits = spoken_at + self.speech_ms(text) <= start + step.ms
        if not fits:
            if not self.shipped:
                over = spoken_at + self.speech_ms(text) - (start + step.ms)
                self.warnings.append(
                    f"{self.place}: the hold cue {_quote(text)} would run {over / 1000:.2f} s "
                    f"past the end of its {step.ms / 1000:g} s hold after the bell; it is said "
                    "before the bell instead"
                )
            cue = self.speak(text)
            start = self.cursor
        end = start + step.ms
        self.add(start, step.ms, "hold", step.text or "hold")
        opening = self.chime("hold-start", at=start)
        if fits:
            cue = self.speak(text, at=opening.end)
        for group in time_left_cues(step.ms):
            free = cue.end + 300
            fits = True
            for before_end, text in group:
                at = end - before_end
                fits = fits and at >= free and at + self.speech_ms(text) <= end
                free = at + self.speech_ms(text)
            if fits:
                for before_end, text in group:
                    cue = self.speak(text, at=end - before_end)
        closing = self.chime("hold-end", at=end)
        self.cursor = max(closing.end, self.speech_free) + GAP_MS

    def breathe(self, step: Breathe) -> None:
        step = Breathe(step.direction, paced(step.ms, self.pace), step.text)
        start = self.cursor
        text = step.text or BREATH_CUES[step.direction]
        needed = self.speech_ms(text) + BREATH_TAIL_MS
        window = max(step.ms, needed)
        if window > step.ms and not self.shipped:
            self.warnings.append(
                f"{self.place}: the breathe cue {_quote(text)} needs {needed / 1000:.1f} s "
                f"but its window is {step.ms / 1000:g} s; the window was lengthened"
            )
        if step.direction != "hold":
            if self.last_breath is not None and self.last_breath[0] == step.direction:
                self.warnings.append(
                    f"{self.place}: two {step.direction}-breaths in a row, "
                    f"{_quote(self.last_breath[1])} then {_quote(text)}; "
                    "let in and out take turns"
                )
            self.last_breath = (step.direction, text)
        self.add(start, window, "breathe", text, name=step.direction)
        self.add(
            start,
            sounds.duration_ms(f"breathe-{step.direction}"),
            "chime",
            name=f"breathe-{step.direction}",
        )
        self.speak(text, at=start)
        self.cursor = start + window

    def rest(self, ms: int, text: str = "rest") -> None:
        ms = paced(ms, self.pace)
        start = max(self.cursor, self.speech_free)
        self.add(start, ms, "rest", text)
        self.cursor = start + ms

    def close(self, title: str, posture: Posture | None) -> Section:
        end = max([self.cursor - GAP_MS, self.speech_free, *(e.end for e in self.events)])
        end += SECTION_GAP_MS
        return Section(
            title,
            self.start,
            end - self.start,
            tuple(self.events),
            self.technique,
            tuple(self.warnings),
            posture,
        )


def _quote(text: str | None) -> str:
    text = text or ""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _fill(text: str, side: str | None) -> str:
    return text.replace("{side}", side) if side is not None else text


def _technique(
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
    s = _Section(speech_ms, start, pace, technique=t.title, place=place, shipped=t.shipped)
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
    cue = _Section(speech_ms, 0).speak(text)
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


def _preamble(
    routine: Routine, speech_ms: SpeechMs, brief: bool = False, listening: bool = False
) -> Section:
    """Title, what to fetch, the safety warning (and what to say, when listening), the sounds
    this routine uses, and into the first posture. Warnings about the routine's definitions
    ride on this first section. Brief: the safety warning in one sentence, the commands in
    one, and the sounds taken as known."""
    s = _Section(speech_ms, 0)
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


def _resumed(routine: Routine, n: int, speech_ms: SpeechMs, listening: bool = False) -> Section:
    """The opening of a session resumed at technique n: where we are, safety in one sentence,
    what this part needs, and into its posture. The sounds are known by now."""
    s = _Section(speech_ms, 0)
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


def _outro(routine: Routine, start: int, speech_ms: SpeechMs) -> Section:
    s = _Section(speech_ms, start)
    last = phrases.last_posture(routine)
    for text in (*phrases.CLOSING[last], phrases.SEE_SOMEONE):
        s.speak(text)
    s.chime("routine-end", at=s.speech_free + GAP_MS)
    return s.close("Closing", last)


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
    full opening). `detail` "brief" is for someone who knows the routine (see `_preamble`;
    each technique's brief texts). `listening`: the session listens for voice commands, and
    its opening says so."""
    first = start_at or 1
    if not 1 <= first <= len(routine.techniques):
        raise ValueError(f"start_at must be 1 to {len(routine.techniques)}, got {start_at}")
    brief = detail == "brief"
    section = (
        _resumed(routine, first, speech_ms, listening)
        if start_at is not None
        else _preamble(routine, speech_ms, brief, listening)
    )
    yield section
    before: Posture | None = None
    for n, posture in enumerate(phrases.postures(routine), 1):
        if n < first:
            continue
        section = _technique(routine, n, before, section.end, speech_ms, pace, brief)
        before = posture
        if limit:
            _check_length(routine, section.end)
        yield section
    section = _outro(routine, section.end, speech_ms)
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
