"""Unknown names answered with the names that would work: all of them when they are few, the
closest few when they are many, and where to see them all.

One wording for every kind of name (sound, technique, routine, side, config key), so a typo
anywhere reads the same.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

LIST_ALL_UP_TO = 20
"""More valid names than this are not listed whole: only the closest few."""


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices nearest `word`: spelling first (difflib), then names that contain it, so
    "twist" finds "seated-thoracic-twist"."""
    options = list(dict.fromkeys(choices))
    found = difflib.get_close_matches(word, options, n=n, cutoff=0.6)
    lowered = word.lower().strip()
    if len(lowered) >= 3:
        found += [c for c in options if lowered in c.lower() and c not in found]
    return found[:n]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x' or 'y'?)', or nothing when nothing is close."""
    found = closest(word, choices)
    return f" (did you mean {' or '.join(repr(m) for m in found)}?)" if found else ""


def valid(word: str, choices: Iterable[str], what: str, see: str | None = None) -> str:
    """What follows an unknown name: the closest matches, then every valid name (or, when there
    are many, where to find them), e.g. " (did you mean 'self-hug'?); techniques: a, b".
    """
    options = list(dict.fromkeys(choices))
    hint = did_you_mean(word, options)
    if len(options) <= LIST_ALL_UP_TO:
        listed = f"; {what}: {', '.join(options)}" if options else f"; there are no {what}"
        return hint + listed + (f" (see '{see}')" if see else "")
    return hint + (f"; see '{see}' for all {len(options)} {what}" if see else "")
