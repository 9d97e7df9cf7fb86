"""Routine and technique files (TOML) -> frozen definitions, validated against one table.

Every problem in a file is collected, not just the first, so `voiceguide check` can list them
all. Files are only ever parsed as data, never executed.

One module per idea: `definitions` (the frozen steps, techniques and routines), `values` (one
value checked), `keys` (the table of keys), `reader` (a file's problems collected), `steps`
(steps and techniques read, and `use`) and `files` (TOML files, techniques and routines read).
Where techniques and routines are kept is the catalog's business (catalog.py, the layer above),
which hands `read_routine` its `Techniques`; this package imports nothing above it.
"""

from .definitions import (
    DEFAULT_TRANSITION_MS,
    POSTURES,
    Breathe,
    Chime,
    Direction,
    Hold,
    Posture,
    Rest,
    Routine,
    Say,
    Step,
    Technique,
    Techniques,
)
from .files import MAX_FILE_BYTES, MAX_STEP_RUNS, parse_routine, read_routine, read_technique
from .keys import ROUTINE_KEYS, STEP_KINDS, TECHNIQUE_KEYS, USE_KEYS
from .values import (
    ALLOWED,
    MAX_REPS,
    MAX_SECONDS,
    MAX_SIDE,
    MAX_TEXT,
    SPOKEN_PUNCTUATION,
    sayable,
)

__all__ = [
    "ALLOWED",
    "DEFAULT_TRANSITION_MS",
    "MAX_FILE_BYTES",
    "MAX_REPS",
    "MAX_SECONDS",
    "MAX_SIDE",
    "MAX_STEP_RUNS",
    "MAX_TEXT",
    "POSTURES",
    "ROUTINE_KEYS",
    "SPOKEN_PUNCTUATION",
    "STEP_KINDS",
    "TECHNIQUE_KEYS",
    "USE_KEYS",
    "Breathe",
    "Chime",
    "Direction",
    "Hold",
    "Posture",
    "Rest",
    "Routine",
    "Say",
    "Step",
    "Technique",
    "Techniques",
    "parse_routine",
    "read_routine",
    "read_technique",
    "sayable",
]
