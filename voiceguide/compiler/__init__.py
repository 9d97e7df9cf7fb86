"""Definitions + settings -> Timeline. Pure: the same inputs always give the same timeline.

All times are integer milliseconds at absolute offsets. Speech lengths come from one function
(`SpeechMs`), real clip lengths when synthesis is available, an estimate otherwise; holds,
breaths and rests never depend on it. `pace` scales every hold, breath window, rest and
transition (never the speech); time-left cues are laid out for the scaled lengths.

One module per idea: `routine` (the sections in order, the length limit, every text a
routine may speak), `sections` (what the opening, each technique and the closing say),
`layout` (one section's events in time: gaps, holds, breaths, countdowns) and `numbers`
(numbers in words).
"""

from .layout import LEAD_QUIET_MS, SpeechMs, paced, time_left_cues
from .numbers import seconds_words, words
from .routine import MAX_ROUTINE_MS, compile_routine, compile_sections, cue_texts
from .sections import opening_lead

__all__ = [
    "LEAD_QUIET_MS",
    "MAX_ROUTINE_MS",
    "SpeechMs",
    "compile_routine",
    "compile_sections",
    "cue_texts",
    "opening_lead",
    "paced",
    "seconds_words",
    "time_left_cues",
    "words",
]
