"""One section's events laid out in time: speech never over speech, a hold exactly its
length whatever the voice, and a warning where a definition's window is too short for its cue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import sounds
from ..language import Breathe, Hold, Posture
from ..timeline import Event, Kind, Section
from .numbers import seconds_words

SpeechMs = Callable[[str], int]
"""How long a text takes to say, in ms: a real clip's length, or an estimate."""

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
class Layout:
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
