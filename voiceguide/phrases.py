"""What a routine says around its techniques, fitted to where the body is.

The opening names what to fetch, warns, explains the sounds this routine uses (and no other),
and settles the listener into the first technique's posture; a posture change gets its own
words and a longer quiet; the closing gets up from wherever the last technique ended. Every
line is written for someone who hears it with closed eyes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .language import Breathe, Chime, Hold, Posture, Routine, Technique

SAFETY = (
    "Before we begin, a word on safety.",
    "Stop at once if you feel sharp pain, pain that spreads into your arms or legs, "
    "or any numbness, tingling or weakness.",
    "Do not do this routine if you have severe osteoporosis, a spinal infection, or have had "
    "surgery on your spine. After a fall or an accident, see a professional first.",
    "Move slowly, only to the point of mild resistance, and never force a crack.",
)

PAIN = (
    "Stop moving, and rest in whatever position feels easiest. Sharp pain, pain that spreads "
    "into your arms or legs, or numbness, tingling or weakness mean stop for today, and have "
    "it looked at by a doctor or a physical therapist. If it was only a strong stretch, and it "
    "has eased already, say continue. Otherwise, say stop."
)
"""What the guide says after "it hurts", then waits for "continue" or "stop"."""

LISTENING = (
    "I am listening in the quiet moments, never while I speak. Say pause, next, back, or more "
    "time; say stop twice to end. If anything hurts, say it hurts."
)
"""Said after the safety warning when the session listens for voice commands."""
LISTENING_BRIEF = "Say pause, more time, or stop; if anything hurts, say it hurts."
"""The same, for someone who knows the routine, and at a resumed session's opening."""

SAFETY_BRIEF = "Stop at once if you feel sharp or spreading pain, numbness, tingling or weakness."
"""The safety warning in one sentence: never dropped, however short the opening."""

SOUNDS_INTRO = "Here are the sounds you will hear."
SOUND_GUIDE: dict[str, str] = {
    "technique-start": "This sound means a technique begins.",
    "breathe-in": "This rising tone means breathe in.",
    "breathe-out": "This falling tone means breathe out.",
    "breathe-hold": "This steady tone means hold your breath.",
    "hold-start": "This bright bell starts a hold.",
    "hold-end": "This low bell means the hold is over.",
    "switch-side": "This double tap means change sides.",
    "routine-end": "And this chime means the routine is over.",
}
"""Each shipped sound, in the order the opening explains them, and how it explains it."""

SETTLE: dict[Posture | None, str] = {
    "chair": "Now sit on your chair, feet flat on the floor, and let your eyes close.",
    "standing": "Now stand with a little room around you. Close your eyes only if you feel steady.",
    "wall": "Now stand with your back to a wall, a small step away from it. Close your eyes "
    "only if you feel steady.",
    "floor": "Now sit down on the floor, with everything you need within reach, and let your "
    "eyes close.",
    None: "Now get into position, and close your eyes if you feel steady.",
}
"""The last words of the opening: into the first technique's posture."""

SCREEN: dict[Posture | None, str] = {
    "chair": "Sit on a sturdy chair, close your eyes, and listen.",
    "standing": "Stand with room around you, and listen; close your eyes if you feel steady.",
    "wall": "Stand near a clear stretch of wall, and listen; close your eyes if you feel steady.",
    "floor": "Get down onto the floor, close your eyes, and listen.",
    None: "Get comfortable, close your eyes, and listen.",
}
"""What `play` shows before it starts, for the first technique's posture."""

MOVE: dict[Posture, str] = {
    "chair": "Now come to a chair. Take your time.",
    "standing": "Now come up to standing. Take your time.",
    "wall": "Now come over to a wall. Take your time.",
    "floor": "Now we move down to the floor. Take your time.",
}
"""Said before a technique whose posture differs from the one before."""

GET_UP: dict[Posture | None, tuple[str, str]] = {
    "floor": (
        "Lie still for a few breaths.",
        "When you are ready, roll onto your side, push yourself up to sitting, "
        "and only then stand up, slowly.",
    ),
    "chair": (
        "Stay seated, and take one slow, easy breath.",
        "Then open your eyes, and go back to your day.",
    ),
    "standing": (
        "Stand easy for a few breaths, arms loose.",
        "Then open your eyes, and walk on slowly.",
    ),
    "wall": (
        "Stand easy for a few breaths, arms loose.",
        "Then open your eyes, and walk on slowly.",
    ),
    None: (
        "Rest for a few breaths.",
        "When you are ready, come out of the position slowly.",
    ),
}
"""How to come out of a posture, safely, eyes closed: at the end and on a stop alike."""

CLOSING: dict[Posture | None, tuple[str, ...]] = {
    posture: (f"That is the end of the routine. {settle}", then)
    for posture, (settle, then) in GET_UP.items()
}
"""How to come out of the last technique's posture."""
STOPPING = "Stopping here."
"""The first words after `q`; `stopping` adds how to get up."""
SEE_SOMEONE = (
    "If pain lingers for weeks, or is worse at night and rest does not ease it, "
    "see a physical therapist or a doctor."
)

CHANGE_MS_TO_FLOOR = 20_000
"""Getting down onto the floor, and fetching a roller or a ball on the way."""
CHANGE_MS_FROM_FLOOR = 15_000
"""Rolling to one side, sitting up, then standing, without hurrying."""
CHANGE_MS = 10_000
"""Any other change: out of a chair, over to a wall."""


def moved(before: Posture | None, now: Posture | None) -> bool:
    """Whether the body changes position: a known posture that differs from the one before;
    at the start, getting down onto the floor counts as a change."""
    if now is None or before == now:
        return False
    return before is not None or now == "floor"


def transition_ms(routine: Routine, technique: Technique, before: Posture | None) -> int:
    """Quiet to get into place: the technique's own, else the routine's, longer on a change."""
    if technique.transition_ms is not None:
        return technique.transition_ms
    if not moved(before, technique.posture):
        return routine.transition_ms
    change = (
        CHANGE_MS_TO_FLOOR
        if technique.posture == "floor"
        else CHANGE_MS_FROM_FLOOR
        if before == "floor"
        else CHANGE_MS
    )
    return max(routine.transition_ms, change)


def postures(routine: Routine) -> tuple[Posture | None, ...]:
    """Each technique's posture; one that declares none keeps the one before."""
    out: list[Posture | None] = []
    current: Posture | None = None
    for technique in routine.techniques:
        current = technique.posture or current
        out.append(current)
    return tuple(out)


def first_posture(routine: Routine) -> Posture | None:
    return next((t.posture for t in routine.techniques if t.posture), None)


def last_posture(routine: Routine) -> Posture | None:
    return postures(routine)[-1] if routine.techniques else None


_WORD = re.compile(r"[^\W_]+")


def equipment(routine: Routine) -> tuple[str, ...]:
    """Everything the routine needs, once each; an item that another names more exactly is
    left out ("chair" beside "sturdy, low-backed chair")."""
    items = list(dict.fromkeys(e for t in routine.techniques for e in t.equipment))

    def covered(item: str) -> bool:
        words = " ".join(_WORD.findall(item.lower()))
        return any(
            other != item and f" {words} " in f" {' '.join(_WORD.findall(other.lower()))} "
            for other in items
        )

    return tuple(item for item in items if not covered(item))


_COUNTED = re.compile(r"^(a|an|the|some|any|two|three|four|\d+)\b", re.IGNORECASE)


def _with_article(item: str) -> str:
    """ "foam roller" -> "a foam roller"; an item that already says how many, or a plural,
    stays as written."""
    if _COUNTED.match(item) or (item.endswith("s") and not item.endswith("ss")):
        return item
    return ("an " if item[0].lower() in "aeiou" else "a ") + item


def and_list(items: Iterable[str]) -> str:
    parts = list(items)
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def needs_sentence(items: tuple[str, ...]) -> str | None:
    """ "You will need a sturdy chair and a foam roller.", or None when it needs nothing."""
    if not items:
        return None
    return f"You will need {and_list(map(_with_article, items))}."


def sounds_used(routine: Routine) -> tuple[str, ...]:
    """The shipped sounds this routine plays, in the order the opening explains them."""
    used = {"technique-start", "routine-end"}
    for technique in routine.techniques:
        if len(technique.sides) > 1:
            used.add("switch-side")
        for step in technique.steps:
            match step:
                case Breathe(direction=direction):
                    used.add(f"breathe-{direction}")
                case Hold():
                    used |= {"hold-start", "hold-end"}
                case Chime(sound=sound):
                    used.add(sound)
    return tuple(name for name in SOUND_GUIDE if name in used)


def briefing(routine: Routine, start_at: int | None = None) -> str:
    """What `play` shows before it starts: what to fetch, and how to settle for the technique
    it starts with (a resumed session may start on the floor)."""
    needs = needs_sentence(equipment(routine))
    posture = postures(routine)[start_at - 1] if start_at else first_posture(routine)
    settle = SCREEN[posture]
    return f"{needs} {settle}" if needs else settle


def resuming(routine: Routine, technique: Technique) -> str:
    """The first words of a resumed session: which routine, and where in it."""
    return f"Resuming {routine.title.rstrip('.')}, at {technique.title.rstrip('.')}."


def stopping(posture: Posture | None) -> str:
    """What `q` says: the stop, then how to come out of the posture the listener is in, as
    the closing would say it (getting up off the floor is not getting up from a chair)."""
    return " ".join((STOPPING, *GET_UP[posture]))
