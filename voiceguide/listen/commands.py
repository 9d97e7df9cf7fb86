"""The spoken commands: one table of phrases, the grammar built from it, and words -> command.

The table is the single source: the recognizer's JSGF grammar, `command_of` and the tests
all read `PHRASES`, so a variant added here is heard, understood and tested at once.
"""

from __future__ import annotations

import re
from typing import Literal

Command = Literal["pause", "continue", "next", "back", "more", "stop", "hurts"]

PHRASES: dict[Command, tuple[str, ...]] = {
    "pause": ("pause", "wait"),
    "continue": ("continue", "go on", "resume"),
    "next": ("next",),
    "back": ("back", "go back", "previous"),
    "more": ("more time", "ten more seconds"),
    "stop": ("stop", "quit"),
    "hurts": ("it hurts", "that hurts", "pain"),
}
"""Every phrase of each command, in lower case, words as the dictionary spells them."""

COMMANDS: tuple[Command, ...] = tuple(PHRASES)

SOUNDS: dict[str, tuple[str, ...]] = {
    "pause": ("P AA Z", "P AO L Z"),
    "wait": ("W EH T",),
    "continue": ("K AH N T IH N UW",),
    "go": ("G AH UW",),
    "back": ("B AA K", "B EH K"),
    "time": ("T AA IH M",),
    "stop": ("S T AO P",),
    "hurts": ("HH UH T S",),
}
"""Other ways the command words are said, in the dictionary's phones, beside its own: the
vowels of American and British speech ("pause" as "pahz", "stop" as "stawp", "hurts" without
its "r"), a long "o" that glides ("go"). Each was heard by the recognizer on voices it had
missed without it; "pain" and "more" have none, nor "quit" (the variants tried there let
talk in: "more" without its "r" made "Ten seconds left." ten more seconds).
Measured in docs/listening.md."""

POLITE = ("please", "okay")
"""Words a command may start or end with; they change nothing."""

_OF_PHRASE: dict[str, Command] = {
    phrase: command for command, phrases in PHRASES.items() for phrase in phrases
}


_SPELLED = {"10": "ten", "ok": "okay"}
"""How a transcript may write a command's words otherwise ("10 more seconds", "OK")."""


def words(text: str) -> str:
    """Text as the recognizer spells it: lower case, words only, "10" and "OK" as the
    commands spell them ("OK, 10 more seconds!" -> "okay ten more seconds")."""
    return " ".join(_SPELLED.get(w, w) for w in re.findall(r"[a-z']+|\d+", text.lower()))


SHARED = frozenset({"go", "it", "that", "on", "ten", "time", "seconds"})
"""Words of the commands that talk says too ("go ahead", "lean on", "ten seconds left")."""
OWN: dict[Command, frozenset[str]] = {
    command: frozenset(w for phrase in phrases for w in phrase.split()) - SHARED
    for command, phrases in PHRASES.items()
}
"""Each command's own words: a sentence with none of them is not that command."""


def sayings() -> tuple[str, ...]:
    """Every way a command may be said: each phrase alone, after a polite word, before one,
    or between two."""
    return tuple(
        " ".join(w for w in (before, phrase, after) if w)
        for phrases in PHRASES.values()
        for phrase in phrases
        for before in ("", *POLITE)
        for after in ("", *POLITE)
    )


def grammar(garbage: tuple[str, ...] = (), weight: float = 1.0) -> str:
    """The JSGF grammar of the commands: every saying spelled out (JSGF's optional `[ ]`
    lets pocketsphinx end on a broken-off phrase more often; measured in docs/listening.md).

    `garbage`: dictionary words of a loop that competes with the commands, entered with
    prior `weight`: anything else said is heard as a run of them, which `command_of`
    answers with None."""
    top = f"public <utterance> = {' | '.join(sayings())}"
    rules = []
    if garbage:
        top = f"public <utterance> = /1/ ( {' | '.join(sayings())} ) | /{weight:g}/ <garbage>+"
        rules.append(f"<garbage> = {' | '.join(garbage)};")
    return "\n".join(["#JSGF V1.0;", "grammar commands;", f"{top};", *rules]) + "\n"


def command_of(hypothesis: str) -> Command | None:
    """The command a recognizer's words say, or None (nothing, or anything beyond one
    command phrase with its polite words around it)."""
    said = words(hypothesis).split()
    while said and said[0] in POLITE:
        said.pop(0)
    while said and said[-1] in POLITE:
        said.pop()
    return _OF_PHRASE.get(" ".join(said))
