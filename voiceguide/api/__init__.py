"""The library's entry points: what the CLI calls, usable on their own.

from voiceguide import api
timeline = api.compile("upper-back", api.Options(rate=120))

One module per idea: `options` (a session's choices, one value every entry point takes),
`settings` (what a run is spoken and mixed with, from the command line,
the routine and the config), `synthesis` (cues to clips, and the timeline laid out on them),
`exporting`, `playback`, `listing` (the catalog's lengths), `sounding` (one sound on its own)
and `threads`.
"""

from .. import catalog, language
from .exporting import export
from .listing import Entry, builtin_routines, builtin_techniques
from .options import Options
from .playback import playing, session_detail
from .settings import (
    bed,
    estimate,
    input_files,
    load,
    mix_for,
    refuse_unknown_voice,
    settings_for,
)
from .sounding import export_sound, sound_samples
from .synthesis import Prepared, Progress, compile, prepare

__all__ = [
    "Entry",
    "Options",
    "Prepared",
    "Progress",
    "bed",
    "builtin_routines",
    "builtin_techniques",
    "catalog",
    "compile",
    "estimate",
    "export",
    "export_sound",
    "input_files",
    "language",
    "load",
    "mix_for",
    "playing",
    "prepare",
    "refuse_unknown_voice",
    "session_detail",
    "settings_for",
    "sound_samples",
]
