"""Steps and techniques read from their tables: an inline technique, or a `use` of one by id
with its reps, sides, holds or transition changed; {side} checked against the sides.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..names import valid
from .definitions import Breathe, Chime, Hold, Rest, Say, Step, Technique
from .keys import STEP_KINDS, TECHNIQUE_KEYS, USE_KEYS
from .reader import _Reader
from .values import MAX_TEXT, _found, _shown


def _step(reader: _Reader, raw: object, place: str) -> Step | None:
    if not isinstance(raw, dict):
        reader.problem(place, f'a step must be a table like {{ say = "..." }}, {_found(raw)}')
        return None
    kinds = [k for k in ("breathe", "hold", "rest", "chime") if k in raw]
    if len(kinds) > 1:
        reader.problem(
            place,
            f"a step takes exactly one of breathe, hold, rest, chime, say; "
            f"got {' and '.join(kinds)}",
        )
        return None
    kind = kinds[0] if kinds else "say"
    if not kinds and "say" not in raw:
        keys = ", ".join(map(_shown, list(raw)[:5])) + (", ..." if len(raw) > 5 else "")
        keys = keys or "nothing"
        reader.problem(place, f"a step needs one of say, breathe, hold, rest, chime; got {keys}")
        return None
    values = reader.fields(raw, STEP_KINDS[kind], place, f"a {kind} step")
    if values is None:
        return None
    match kind:
        case "breathe":
            return Breathe(values["breathe"], values["seconds"], values.get("say"))
        case "hold":
            return Hold(values["hold"], values.get("say"))
        case "rest":
            return Rest(values["rest"])
        case "chime":
            sound = values["chime"]
            if sound.lower().endswith(".wav"):
                sound = reader.sound_file(sound, place)
            return Chime(sound) if sound else None
    return Say(values["say"])


def _technique(
    reader: _Reader, raw: object, place: str, tid: str | None = None
) -> Technique | None:
    values = reader.fields(raw, TECHNIQUE_KEYS, place, "a technique")
    steps_raw = raw.get("steps") if isinstance(raw, dict) else None
    if (
        isinstance(raw, dict)
        and "steps" in raw
        and (not isinstance(steps_raw, list) or not steps_raw)
    ):
        reader.problem(
            f"{place}, steps" if place else "steps",
            f"must be a non-empty list of steps, {_found(steps_raw)}",
        )
        return None
    if values is None or not isinstance(steps_raw, list):
        return None
    prefix = f"{place}, " if place else ""
    steps = [_step(reader, s, f"{prefix}step {i}") for i, s in enumerate(steps_raw, 1)]
    if any(s is None for s in steps):
        return None
    technique = Technique(
        title=values["title"],
        steps=tuple(s for s in steps if s is not None),
        id=tid,
        sides=values.get("sides", ()),
        reps=values.get("reps", 1),
        position=values.get("position"),
        equipment=values.get("equipment", ()),
        safety=values.get("safety"),
        summary=values.get("summary"),
        posture=values.get("posture"),
        transition_ms=values.get("transition"),
        brief_position=values.get("brief_position"),
        brief_safety=values.get("brief_safety"),
    )
    _check_sides(reader, technique, place)
    return technique


def _texts(technique: Technique) -> list[str]:
    texts = [technique.title, technique.position, technique.safety]
    texts += [technique.brief_position, technique.brief_safety]
    texts += [getattr(s, "text", None) for s in technique.steps]
    return [t for t in texts if t]


def _check_sides(reader: _Reader, technique: Technique, place: str) -> None:
    uses_side = any("{side}" in t for t in _texts(technique))
    if uses_side and not technique.sides:
        reader.problem(place, "text uses {side} but the technique has no sides")
    longest = max((len(s) for s in technique.sides), default=0)
    for text in _texts(technique):
        if len(text.replace("{side}", "x" * longest)) > MAX_TEXT:
            reader.problem(
                place,
                f"a cue must be at most {MAX_TEXT} characters once "
                f"{{side}} is filled in: {text[:30]!r}...",
            )


def _use(reader: _Reader, raw: dict[str, Any], place: str) -> Technique | None:
    values = reader.fields(raw, USE_KEYS, place, "a technique with 'use'")
    if values is None:
        return None
    known = reader.techniques
    base = known.find(values["use"]) if known is not None else None
    if base is None:
        ids = known.ids() if known is not None else []
        reader.problem(
            f"{place}, use",
            f"no technique {_shown(values['use'])}"
            + valid(values["use"], ids, "techniques", "voiceguide list"),
        )
        return None
    technique = base
    if "transition" in values:
        technique = replace(technique, transition_ms=values["transition"])
    if "reps" in values:
        technique = replace(technique, reps=values["reps"])
    if "sides" in values:
        technique = replace(technique, sides=values["sides"])
    if "hold" in values:
        steps = tuple(
            Hold(values["hold"], s.text) if isinstance(s, Hold) else s for s in technique.steps
        )
        technique = replace(technique, steps=steps, shipped=False)  # its holds are yours
    _check_sides(reader, technique, place)
    return technique
