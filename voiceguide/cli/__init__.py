"""The command line: parse, call the library, print. The only place that prints or exits.

`app` holds the group and `main`; the commands are in `routines` (list, show, check), `session`
(export, play, history, screen), `listening` (mic), `extras` (sounds, voices, cache) and
`serving` (serve); `options` has the options they share.
"""

from . import extras, listening, routines, serving, session
from .app import cli, console, main

__all__ = ["cli", "console", "extras", "listening", "main", "routines", "serving", "session"]
