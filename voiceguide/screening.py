"""The safety questions asked before play, from the guide's contraindications, and when
clean answers must be renewed: a recent fall or new numbness does not wait for ever."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

RENEW_DAYS = 90
"""Clean answers are good for this many days from the day they were given."""

QUESTIONS: tuple[tuple[str, str], ...] = (
    (
        "Do you have severe osteoporosis?",
        "With fragile bones, pressure and twisting on the spine can cause a fracture.",
    ),
    (
        "Do you have, or might you have, an infection of the spine?",
        "An infected spine must not be loaded or manipulated.",
    ),
    (
        "Have you ever had surgery on your spine?",
        "After spinal surgery, self-adjustment can damage the repair.",
    ),
    (
        "Have you had a fall or an accident recently?",
        "An injury from a fall or an accident needs to be checked before you stress the spine.",
    ),
    (
        "Do you have numbness, tingling or weakness in your arms or legs?",
        "These can be signs that a nerve is compressed: a professional should look first.",
    ),
    (
        "Do you have sharp pain, or pain that spreads into your arms or legs?",
        "Sharp or spreading pain can mean a nerve problem or another serious cause.",
    ),
)

ADVICE = (
    "Please do not use these routines for now. See a physical therapist, chiropractor or "
    "doctor, who can find the cause and suggest what is safe for you."
)


def reasons(answers: Mapping[str, bool]) -> list[str]:
    """Why not to play, one line per question answered yes; empty when all are no."""
    return [why for question, why in QUESTIONS if answers.get(question)]


def today() -> datetime.date:
    """The local date the answers are measured against (tests move it)."""
    return datetime.date.today()


def answered_on(config: Mapping[str, object]) -> datetime.date | None:
    """The day clean answers were given, or None when the config holds none with a plain date
    (`screened = true` alone, as written before answers were dated, counts as none)."""
    when = config.get("screened_on")
    if config.get("screened") is not True or type(when) is not datetime.date:
        return None
    return when


def due(config: Mapping[str, object], on: datetime.date) -> bool:
    """Whether the questions must be asked on this day: no dated clean answers, answers
    dated after it (a clock set back, a hand edit), or answers RENEW_DAYS old or older."""
    when = answered_on(config)
    return when is None or not 0 <= (on - when).days < RENEW_DAYS


def renewal(on: datetime.date) -> datetime.date:
    """The first day answers given on `on` are asked again."""
    return on + datetime.timedelta(days=RENEW_DAYS)


def clean(on: datetime.date) -> dict[str, bool | datetime.date]:
    """The config keys that record clean answers given on this day."""
    return {"screened": True, "screened_on": on}
