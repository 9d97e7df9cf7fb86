"""What each engine can say, decided from the text alone (no engine is started), so that
`check` and `export` give the same answer: the writing systems ("scripts") a voice reads, the
voice that reads a script the chosen one does not, and symbols said by their names.

The natural voice reads the Latin script; an espeak-ng voice reads the Latin script and its
own language's. A cue with letters of another script is said by the espeak-ng voice of that
script (one warning names it); a cue no voice here can read (Japanese: kanji and kana
together, which no espeak-ng voice reads both of) is an error, from `check` as from `export`.
Emoji and other symbols in a cue with no letter or digit are said by their Unicode names, by
every engine (`estimate.spoken`). Why: docs/speech-scripts.md.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from ..errors import SpeechError

SCRIPT_VOICES = {
    "CYRILLIC": "ru",
    "GREEK": "el",
    "ARABIC": "ar",
    "HEBREW": "he",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "GURMUKHI": "pa",
    "GUJARATI": "gu",
    "ORIYA": "or",
    "TAMIL": "ta",
    "TELUGU": "te",
    "KANNADA": "kn",
    "MALAYALAM": "ml",
    "SINHALA": "si",
    "THAI": "th",
    "MYANMAR": "my",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
    "ETHIOPIC": "am",
    "HANGUL": "ko",
    "CJK": "cmn",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
}
"""A script, and the espeak-ng voice that reads it (its language)."""

LANGUAGE_SCRIPTS = {
    **{
        lang: ("CYRILLIC",) for lang in ("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tt", "ba")
    },
    **{lang: ("ARABIC",) for lang in ("ar", "fa", "ur", "sd", "ug")},
    **{lang: ("DEVANAGARI",) for lang in ("hi", "mr", "ne", "kok")},
    "as": ("BENGALI",),
    "ja": ("HIRAGANA", "KATAKANA"),
    "yue": ("CJK",),
    "hak": ("CJK",),
    **{voice: (script,) for script, voice in SCRIPT_VOICES.items()},
}
"""An espeak-ng language, and the scripts besides Latin its voice reads."""

SCRIPT_NAMES = {"CJK": "Han (kanji, hanzi)", "HANGUL": "Hangul"}


@dataclass(frozen=True, slots=True)
class Route:
    """Another voice for a cue its engine's voice cannot read."""

    engine: str
    voice: str
    script: str


@functools.lru_cache(maxsize=4096)
def script(ch: str) -> str:
    """The script of a letter, as the first word of its Unicode name ("LATIN", "CJK")."""
    if ch.isascii():
        return "LATIN"
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0].split("-", 1)[0] if name else "UNKNOWN"


def scripts(text: str) -> set[str]:
    """The scripts of the letters of `text` in compatibility form (`estimate.spoken`); digits,
    marks, modifier letters, symbols and punctuation aside."""
    text = unicodedata.normalize("NFKC", text)
    return {script(ch) for ch in text if ch.isalpha() and unicodedata.category(ch) != "Lm"}


def language(voice: str) -> str:
    """The language of a voice as settings name it: "gmw/en-US" and "en-us" are "en"."""
    return voice.strip().casefold().replace("_", "-").rsplit("/", 1)[-1].split("-", 1)[0]


def reads(engine: str, voice: str) -> frozenset[str]:
    """The scripts `engine` reads with `voice`."""
    if engine == "natural":
        return frozenset({"LATIN"})
    return frozenset({"LATIN", *LANGUAGE_SCRIPTS.get(language(voice), ())})


def route(engine: str, voice: str, text: str, espeak: bool = True) -> Route | None:
    """None when `engine` with `voice` reads every letter of `text`; else the espeak-ng voice
    that does (`espeak`: whether espeak-ng works here). SpeechError when no voice here does."""
    foreign = scripts(text) - reads(engine, voice)
    if not foreign:
        return None
    voices = {SCRIPT_VOICES.get(s) for s in foreign}
    shown = " and ".join(sorted(SCRIPT_NAMES.get(s, s.title()) for s in foreign))
    whose = "the natural voice" if engine == "natural" else f"the {engine} voice {voice!r}"
    if len(voices) == 1 and None not in voices and espeak:
        (other,) = voices
        assert other is not None
        return Route("espeak", other, shown)
    if len(voices) > 1 and None not in voices:
        why = f"no voice here reads {shown} letters in one cue"
    elif not espeak and None not in voices:
        why = f"only espeak-ng reads {shown} letters, and it does not work here"
    else:
        why = f"no voice here reads {shown} letters"
    raise SpeechError(f"{whose} cannot say it: {why}")
