"""The command line: parse, call the library, print. The only place that prints or exits.

`app` holds the group and `main`; the commands are in `routines` (list, show, check), `session`
(export, play, history, screen), `listening` (mic) and `extras` (sounds, voices, cache);
`options` has the options they share.
"""

from . import extras, listening, routines, session
from .app import cli, console, main

__all__ = ["cli", "console", "extras", "listening", "main", "routines", "session"]
