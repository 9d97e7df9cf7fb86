"""The safety questions asked before the first play, from the guide's contraindications."""

from __future__ import annotations

from collections.abc import Mapping

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
