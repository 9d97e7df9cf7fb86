"""`voiceguide serve`: the user's routines on the home network, for a phone's browser and its
podcast app.

One module per idea: `routines` (what is served), `token` (the secret every URL carries),
`exports` (the files, made on demand one at a time and cached), `feed` (the podcast feed),
`cover` (its picture), `page` (the one HTML template), `ranges` (byte ranges) and `app` (the
routes and the server).
Above api, below cli: cli -> serve -> api. Design: docs/serve.md.
"""

from .app import ServeError, Server, Site, start
from .exports import Exports
from .token import token

__all__ = ["Exports", "ServeError", "Server", "Site", "start", "token"]
