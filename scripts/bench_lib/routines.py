"""Generated routines of a given length, for the scale measurements.

Built-in techniques repeat the same cues, which the clip cache and the engine's batching make
cheap; real users write their own routines, so cold synthesis must be measured on text that
differs. Every technique here is written inline from word pools (deterministic per seed),
with varied holds, breaths, rests, sides and reps, at about the speech density of the
built-in `upper-back` routine.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from voiceguide.catalog import read_routine, techniques
from voiceguide.compiler import compile_routine, cue_texts, words
from voiceguide.config import DEFAULT_RATE
from voiceguide.estimate import estimate_ms
from voiceguide.language import Routine, parse_routine

_MANNERS = ["Slowly", "Gently", "Carefully", "Smoothly", "Softly", "Steadily", "Easily"]
_MOVES = [
    ("turn", "toward the {side}"),
    ("reach", "forward and a little up"),
    ("roll", "down one segment at a time"),
    ("lift", "until you feel a light stretch"),
    ("lower", "back toward the floor"),
    ("draw", "in toward your spine"),
    ("open", "out to the {side}"),
    ("slide", "along the floor"),
]
_PARTS = [
    "your shoulders",
    "your chest",
    "your upper back",
    "your {side} arm",
    "your ribs",
    "your shoulder blades",
    "your head",
    "your {side} elbow",
    "your collarbones",
]
_AFTER = [
    "keeping your jaw loose",
    "without forcing anything",
    "letting your breath stay easy",
    "with your neck long",
    "only as far as is comfortable",
    "keeping both hips still",
    "as if moving through warm water",
]
_POSITIONS = [
    "Sit tall near the front of a sturdy chair, feet flat on the floor",
    "Lie on your back with your knees bent and your feet hip width apart",
    "Kneel on a soft mat with your hands under your shoulders",
    "Stand with your back near a wall and your feet a short step away from it",
    "Lie on your {side} side with a folded towel under your head",
]
_HOLD_PHRASES = ["Stay here and breathe", "Rest in this shape", "Hold it softly", "Keep still"]
_HOLDS = [8, 10, 12, 15, 20, 25, 30, 40]


def _sentence(rng: random.Random) -> str:
    verb, where = rng.choice(_MOVES)
    return f"{rng.choice(_MANNERS)} {verb} {rng.choice(_PARTS)} {where}, {rng.choice(_AFTER)}."


def _technique(rng: random.Random, number: int) -> dict[str, object]:
    """One inline technique: its title names its number, so no two titles are alike. `{side}`
    stays in the texts of a two-sided technique (one text per side), else names one side."""
    sided = rng.random() < 0.5
    side = "{side}" if sided else rng.choice(["right", "left"])
    steps: list[dict[str, object]] = []
    for _ in range(rng.randint(3, 5)):
        steps.append({"say": _sentence(rng)})
        kind = rng.random()
        if kind < 0.5:
            hold = rng.choice(_HOLDS)
            say = f"{rng.choice(_HOLD_PHRASES)} for {words(hold)} seconds."
            steps.append({"hold": hold, "say": say})
        elif kind < 0.8:
            direction = rng.choice(["in", "out"])
            cue = f"Breathe {direction} as you {rng.choice(_MOVES)[0]} {rng.choice(_PARTS)}."
            steps.append({"breathe": direction, "seconds": rng.randint(4, 7), "say": cue})
        else:
            steps.append({"rest": rng.randint(5, 12)})
    for step in steps:
        if "say" in step:
            step["say"] = str(step["say"]).replace("{side}", side)
    technique: dict[str, object] = {
        "title": f"Movement {words(number)}",
        "position": f"{rng.choice(_POSITIONS)}, {rng.choice(_AFTER)}.".replace("{side}", side),
        "steps": steps,
    }
    if sided:
        technique["sides"] = ["right", "left"]
    if rng.random() < 0.3:
        technique["reps"] = 2
    return technique


def _toml_value(value: object) -> str:
    """JSON's strings and numbers are valid TOML; lists and inline tables need TOML syntax."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def _toml(title: str, techniques: list[dict[str, object]]) -> str:
    out = [f"title = {json.dumps(title)}", "transition = 5", ""]
    for technique in techniques:
        out.append("[[technique]]")
        out += [f"{key} = {_toml_value(value)}" for key, value in technique.items()]
        out.append("")
    return "\n".join(out)


def _estimated_minutes(data: dict[str, object]) -> float:
    routine = parse_routine(data, "generated", techniques())
    timeline = compile_routine(routine, lambda text: estimate_ms(text, DEFAULT_RATE))
    return timeline.duration / 60_000


def write_routine(folder: Path, minutes: int, seed: int = 1) -> tuple[Path, Routine]:
    """A routine of about `minutes` (estimated speech lengths) written to `folder`."""
    rng = random.Random(seed * 1000 + minutes)
    title = f"Generated {minutes}-minute routine"
    techniques = [_technique(rng, 1)]
    while _estimated_minutes({"title": title, "technique": techniques}) < minutes:
        techniques.append(_technique(rng, len(techniques) + 1))
    path = folder / f"generated-{minutes}min.toml"
    path.write_text(_toml(title, techniques), encoding="utf-8")
    return path, read_routine(path)


def distinct_cues(routine: Routine) -> tuple[int, int]:
    texts = cue_texts(routine)
    return len(set(texts)), len(texts)
