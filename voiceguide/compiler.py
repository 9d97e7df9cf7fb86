"""Definitions + settings -> Timeline. Pure: the same inputs always give the same timeline.

All times are integer milliseconds at absolute offsets. Speech lengths come from one function
(`speech_ms`), real clip lengths when synthesis is available, an estimate otherwise; holds,
breaths and rests never depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from . import sounds
from .errors import Problem, RoutineError
from .language import Breathe, Chime, Hold, Rest, Routine, Say, Technique
from .timeline import Event, Kind, Section, Timeline

SpeechMs = Callable[[str], int]

MAX_ROUTINE_MS = 3 * 3600 * 1000
GAP_MS = 600
"""Quiet after a cue before the next one: time to take it in."""
CHIME_GAP_MS = 250
BREATH_TAIL_MS = 300
"""The least quiet a breath window keeps after its cue."""
SECTION_GAP_MS = 1500
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


PREAMBLE = (
    "Before we begin, a word on safety.",
    "Stop at once if you feel sharp pain, pain that spreads into your arms or legs, "
    "or any numbness, tingling or weakness.",
    "Do not do this routine if you have severe osteoporosis, a spinal infection, or have had "
    "surgery on your spine. After a fall or an accident, see a professional first.",
    "Move slowly, only to the point of mild resistance, and never force a crack.",
)
CHIME_GUIDE = (
    ("This sound starts each technique.", "technique-start"),
    ("This bell starts a hold.", "hold-start"),
    ("And this low bell means the hold is over.", "hold-end"),
)
OUTRO = (
    "That is the end of the routine. Rest here for a few breaths.",
    "When you are ready, roll onto your side and get up slowly.",
    "If pain lingers for weeks, or is worse at night, see a physical therapist or a doctor.",
)


@dataclass(slots=True)
class _Section:
    """Lays out one section's events; keeps speech from overlapping speech."""

    speech_ms: SpeechMs
    start: int
    technique: str | None = None
    side: str | None = None
    cursor: int = 0
    """Where the next step starts."""
    speech_free: int = 0
    """When the voice is free again."""
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
        start = self.cursor
        end = start + step.ms
        self.add(start, step.ms, "hold", step.text or "hold")
        opening = self.chime("hold-start", at=start)
        cue = self.speak(step.text or f"Hold for {seconds_words(step.ms)}.", at=opening.end)
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
        start = self.cursor
        text = step.text or BREATH_CUES[step.direction]
        needed = self.speech_ms(text) + BREATH_TAIL_MS
        window = max(step.ms, needed)
        if window > step.ms:
            self.warnings.append(
                f"{self.technique}: the breathe cue {text[:40]!r} needs {needed / 1000:.1f} s "
                f"but its window is {step.ms / 1000:g} s; the window was lengthened"
            )
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
        start = max(self.cursor, self.speech_free)
        self.add(start, ms, "rest", text)
        self.cursor = start + ms

    def close(self, title: str) -> Section:
        end = max([self.cursor - GAP_MS, self.speech_free, *(e.end for e in self.events)])
        end += SECTION_GAP_MS
        return Section(
            title,
            self.start,
            end - self.start,
            tuple(self.events),
            self.technique,
            tuple(self.warnings),
        )


def _fill(text: str, side: str | None) -> str:
    return text.replace("{side}", side) if side is not None else text


def _technique(t: Technique, start: int, transition_ms: int, speech_ms: SpeechMs) -> Section:
    s = _Section(speech_ms, start, technique=t.title)
    s.speak(f"{t.title}.")
    if t.position:
        s.speak(_fill(t.position, t.sides[0] if t.sides else None))
    if t.safety:
        s.speak(_fill(t.safety, t.sides[0] if t.sides else None))
    if transition_ms:
        s.rest(transition_ms, "get into position")
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
    return s.close(t.title)


def _preamble(routine: Routine, speech_ms: SpeechMs) -> Section:
    s = _Section(speech_ms, 0)
    s.speak(f"{routine.title}.")
    for text in PREAMBLE:
        s.speak(text)
    for text, sound in CHIME_GUIDE:
        s.speak(text)
        s.chime(sound, at=s.speech_free + 200)
    return s.close("Introduction")


def _outro(start: int, speech_ms: SpeechMs) -> Section:
    s = _Section(speech_ms, start)
    for text in OUTRO:
        s.speak(text)
    s.chime("routine-end", at=s.speech_free + GAP_MS)
    return s.close("Closing")


def compile_sections(routine: Routine, speech_ms: SpeechMs) -> Iterator[Section]:
    """The routine's sections in order, each laid out only when asked for, so a player can
    start the first while later cues are still being synthesized."""
    section = _preamble(routine, speech_ms)
    yield section
    for t in routine.techniques:
        section = _technique(t, section.end, routine.transition_ms, speech_ms)
        _check_length(routine, section.end)
        yield section
    section = _outro(section.end, speech_ms)
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


def compile_routine(routine: Routine, speech_ms: SpeechMs) -> Timeline:
    return Timeline(routine.title, tuple(compile_sections(routine, speech_ms)))


def cue_texts(routine: Routine) -> tuple[str, ...]:
    """Every text the routine may speak, in order, before knowing how long any of them lasts.

    A superset: a time-left cue that turns out not to fit its hold is listed but not spoken."""
    return compile_routine(routine, lambda text: 1).spoken
