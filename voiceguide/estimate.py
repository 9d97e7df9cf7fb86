"""Cue text as espeak-ng may see it, and how long espeak-ng takes to say it, without speaking.

Kept apart from `speech` (and free of its imports) so that `voiceguide list` and
`show --estimate`, which only estimate, start fast.

The model is fitted to espeak-ng's real clips; `speech` says what `--rate` means.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata

MAX_CHARS = 5000
"""Longest cue we hand to espeak-ng: about 15,000 characters crash it outright."""

RATE_FLOOR = 80
"""espeak-ng speaks any slower rate at this one."""


# --- Text ---------------------------------------------------------------------------------

_WHITESPACE_CONTROLS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r" {2,}")


@functools.lru_cache(maxsize=4096)  # the same phrases recur in every technique
def clean_text(text: str) -> str:
    """What espeak-ng may see: no control characters (they are commands to it), no surrogates."""
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    text = _CONTROLS.sub("", text)
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return _SPACES.sub(" ", text).strip()


def spoken(text: str) -> str:
    """`text` as every engine is given it: cleaned (`clean_text`), in compatibility form (NFKC:
    fullwidth and mathematical letters as plain ones, ligatures undone), and, when it has no
    letter or digit, as the names of its symbols, signs and marks ("grinning face."; an acute
    accent, which NFKC makes a lone combining mark: "combining acute accent."), which engines
    otherwise drop (hibari; espeak-ng for emoji newer than its list) or say at lengths of
    their own."""
    text = unicodedata.normalize("NFKC", clean_text(text))
    if any(ch.isalnum() for ch in text):
        return text
    names = [
        unicodedata.name(ch, "").lower()
        for ch in text
        if unicodedata.category(ch)[0] in "SPM" and not ch.isspace()
    ]
    said = [name for name in names if name]
    return ", ".join(said) + "." if said else text


# --- Duration model -----------------------------------------------------------------------

_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER = re.compile(r"\d+")
_ALNUM = re.compile(r"[^\W_]")
_SPOKEN_SYMBOL = re.compile(r"[&%#@<>/=+*$€£]|(?<=[^\W_])\.(?=[^\W_])")
_PAUSE = re.compile(r"[,;:\u2014\u2013(\[{]|\s-\s")  # em and en dashes too
_SENTENCE_BREAK = re.compile(r"[.!?]+(?=\s+\S)")
_SPELLED = re.compile(r"(?<![^\W\d_])[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{2,}(?![^\W\d_])")
"""A word of two or more consonants and no vowel ("TV", "xxxx"): every engine spells it, one
letter name (about three letters long) after another."""
LONE_LETTER = re.compile(r"(?<![^\W\d_])[^\W\d_](?![^\W\d_])")
"""A letter standing alone, a word of its own."""
MARK_NAME_LETTERS = 8.0
"""A lone letter with an accent ("Ĵ", "é") is said with the accent's name ("J circumflex"):
one word of about eight letters more (measured 1.4-2.2x a plain letter's length at rate 150,
3-5x at 400)."""
# A number is spoken as words: "5" five, "12" twelve, "123" one hundred and twenty-three.
_NUMBER_LETTERS = {1: 4.0, 2: 7.0, 3: 18.0, 4: 22.0}
_NUMBER_WORDS = {1: 1.0, 2: 1.5, 3: 4.0, 4: 4.5}

# Milliseconds per letter, per word, per pause (comma, bracket), per sentence break, and
# fixed (the pause espeak-ng adds at the end), at each calibrated rate: a least-squares fit
# (relative error) of 1,168 clips of 110 texts (cues, odd texts; en-us, en, de, fr, es).
_CALIBRATION: tuple[tuple[int, tuple[float, float, float, float, float]], ...] = (
    (80, (80.5, 181.8, 629.2, 1204.0, 1194.7)),
    (100, (68.7, 151.5, 513.9, 981.5, 969.5)),
    (120, (58.0, 124.1, 407.1, 791.1, 764.7)),
    (150, (47.4, 95.6, 304.0, 597.8, 559.7)),
    (200, (37.1, 67.8, 195.2, 395.6, 356.5)),
    (250, (31.2, 51.0, 129.3, 271.7, 232.9)),
    (300, (28.6, 34.5, 83.4, 170.9, 142.3)),
    (400, (22.4, 26.8, 24.5, 66.7, 41.3)),
)

BAND = (0.72, 1.42)
"""How far a clip of 12 or more letters may be from `estimate_ms`: 99% of calibration clips
fall inside, while a clip at rate 120 measured against rate 200 (or the reverse) falls outside."""
SHORT_BAND = (0.6, 1.6)
"""The same for shorter texts, where one syllable more or less is a large fraction."""
TINY_BAND = (0.15, 3.5)
"""The same for one to three letters or digits ("T.", "Go."), measured at 0.26-2.36 of the
estimate over 104 such texts, 8 rates and 3 repeats: a letter's name is one syllable or three."""


@functools.lru_cache(maxsize=4096)
def _features(text: str) -> tuple[float, float, float, float, float]:
    numbers = _NUMBER.findall(text)
    symbols = len(_SPOKEN_SYMBOL.findall(text))
    letters = len(_LETTER.findall(text)) + 4.0 * symbols
    letters += sum(_NUMBER_LETTERS.get(len(n), 5.0 * len(n)) for n in numbers)
    spelled = _SPELLED.findall(text)
    letters += 2.0 * sum(len(word) for word in spelled)
    words = float(len(_WORD.findall(text)) + symbols)
    words += sum(len(word) - 1 for word in spelled)
    words += sum(_NUMBER_WORDS.get(len(n), 1.2 * len(n)) for n in numbers)
    marked = sum(1 for ch in LONE_LETTER.findall(text) if accents(ch))
    letters += MARK_NAME_LETTERS * marked
    words += marked
    pauses = len(_PAUSE.findall(text))
    breaks = len(_SENTENCE_BREAK.findall(text))
    return (letters, words, pauses, breaks, 1.0)


def accents(letter: str) -> list[str]:
    """The names of the accents on `letter`, as espeak-ng says them after a lone one ("Ĵ":
    ["circumflex"], "é": ["acute"]); [] for a letter without one."""
    marks = (ch for ch in unicodedata.normalize("NFD", letter) if unicodedata.combining(ch))
    names = (unicodedata.name(mark, "").lower().removeprefix("combining ") for mark in marks)
    return [name.removesuffix(" accent") for name in names if name]


def _coefficients(rate: int) -> tuple[float, ...]:
    rate = max(rate, RATE_FLOOR)
    top_rate, top = _CALIBRATION[-1]
    if rate >= top_rate:
        return tuple(c * top_rate / rate for c in top)
    for (lo_rate, lo), (hi_rate, hi) in itertools.pairwise(_CALIBRATION):
        if lo_rate <= rate <= hi_rate:
            t = (rate - lo_rate) / (hi_rate - lo_rate)
            return tuple(a + t * (b - a) for a, b in zip(lo, hi, strict=True))
    return _CALIBRATION[0][1]


def estimate_ms(text: str, rate: int) -> int:
    """How long espeak-ng takes to say `text` at `rate`, without synthesizing it (about +-20%)."""
    text = spoken(text)
    if not text:
        return 0
    features = _features(text)
    total = sum(f * c for f, c in zip(features, _coefficients(rate), strict=True))
    return max(1, round(total))


def duration_band(text: str, rate: int) -> tuple[int, int]:
    """The shortest and longest plausible clip for `text` at `rate`, in milliseconds."""
    expected = estimate_ms(text, rate)
    count = len(_ALNUM.findall(text))
    low, high = BAND if count >= 12 else SHORT_BAND if count > 3 else TINY_BAND
    return math.floor(expected * low), math.ceil(expected * high)


def is_plausible(text: str, rate: int, duration_ms: int) -> bool:
    """False for a clip that cannot be `text` at `rate`, e.g. spoken at a rate that was lost."""
    low, high = duration_band(text, rate)
    return low <= duration_ms <= high
