"""The routes and the server: the standard library's ThreadingHTTPServer, one thread per
request (a phone's player holds a connection open while it streams), only GET and HEAD.

Every path starts with the token; a request without it is refused (403) before anything else
is looked at. After it, a URL names a routine only through the table of routines served, and a
file only by one of a few fixed names, so no part of a URL ever becomes a path: traversal has
nothing to traverse. Files come from the cache folder by key, opened without following a
symlink, and only if regular.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from ..errors import VoiceguideError
from . import cover, feed, page, routines
from .exports import JOB_OF, Exports, Status
from .ranges import Unsatisfiable, byte_range
from .token import matches

TYPES = {
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "vtt": "text/vtt; charset=utf-8",
    "png": "image/png",
}
"""What each served file is; the rest is said where it is made."""
FILES = {"audio.m4a": "m4a", "audio.mp3": "mp3", "transcript.vtt": "vtt", "chart.png": "png"}
"""The files of a routine, by the name its URL gives them."""
CHUNK = 64 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
"""A symlink where a file should be is not opened (not on Windows, which has no O_NOFOLLOW:
there `regular` checks first)."""


class ServeError(VoiceguideError):
    """The server cannot start: the port is taken, the address is not this machine's."""


@dataclass(frozen=True, slots=True)
class Site:
    """What every request needs: the token and the exports."""

    token: str
    exports: Exports


_log = logging.getLogger("voiceguide.serve")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    """Ctrl-C stops at once: no waiting for a phone that still holds a connection."""
    block_on_close = False

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.site = site
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke before its request was read: nothing to say."""


def start(host: str, port: int, site: Site) -> Server:
    """A server bound to (host, port), not yet serving; a port in use or an address that is
    not this machine's is one ServeError line."""
    try:
        return Server((host, port), site)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"{host}:{port} is already in use (another program, or voiceguide serve "
                "running); choose another port with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServeError(f"--host {host}: not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"port {port}: not allowed here; choose one above 1023") from None
        raise ServeError(f"{host}:{port}: cannot listen ({exc.strerror or exc})") from None


class Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "voiceguide"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def __getattr__(self, name: str) -> Any:
        """Every method but GET and HEAD: refused with 405 (after the token is checked)."""
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not every request (which carries the token)."""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _not_allowed(self) -> None:
        if self._parts() is None:
            return self._refuse()
        self._send_text(
            HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n", {"Allow": "GET, HEAD"}
        )

    # --- routing ------------------------------------------------------------------------

    def _parts(self) -> list[str] | None:
        """The path's segments after the token, decoded; None without the right token."""
        path = urlsplit(self.path).path
        try:
            segments = [unquote(s, errors="strict") for s in path.split("/")[1:]]
        except UnicodeDecodeError:  # overlong or broken UTF-8: no name of ours
            return None
        if not segments or not matches(segments[0], self.server.site.token):
            return None
        return segments[1:]

    def _refuse(self) -> None:
        self._send_text(
            HTTPStatus.FORBIDDEN, "forbidden: open the address voiceguide serve printed\n"
        )

    def _answer(self, body: bool) -> None:
        """The token first, then the route; what goes wrong is one line, never a traceback
        (a routine of the user's that cannot be read, say)."""
        self.body = body
        parts = self._parts()
        if parts is None:
            return self._refuse()
        try:
            self._route(parts)
        except VoiceguideError as exc:
            self._send_text(HTTPStatus.INTERNAL_SERVER_ERROR, f"{exc}\n")
        except ConnectionError:
            pass  # the phone went away
        except Exception as exc:
            where = "/".join(parts)  # not the token
            _log.warning(f"serve: {self.command} /{where}: {exc!r}")
            self._send_text(HTTPStatus.INTERNAL_SERVER_ERROR, "something went wrong\n")

    def _route(self, parts: list[str]) -> None:
        site = self.server.site
        base = f"/{site.token}"
        if parts in ([], [""]):
            return self._index(base)
        if parts == ["feed.xml"]:
            return self._feed(base)
        if parts == ["cover.png"]:
            return self._send(HTTPStatus.OK, cover.cover_png(), TYPES["png"])
        if len(parts) in (2, 3) and parts[0] == "r" and parts[1] in routines.names():
            name = parts[1]
            tail = parts[2] if len(parts) == 3 else ""
            if tail == "":
                return self._routine(name, base)
            if tail == "status":
                return self._status(name)
            if tail == "chapters.json":
                return self._chapters(name)
            if tail in FILES:
                return self._file(name, FILES[tail])
        self._send_text(HTTPStatus.NOT_FOUND, "not found\n")

    def _index(self, base: str) -> None:
        options = self.server.site.exports.options
        listings = [routines.listing(name, options) for name in routines.names()]
        body = page.index(listings, base, self._absolute(f"{base}/feed.xml"))
        self._send_page("voiceguide", body)

    def _routine(self, name: str, base: str) -> None:
        exports = self.server.site.exports
        listing = routines.listing(name, exports.options)
        key = exports.key(name)
        status = exports.status(name, key, "audio")
        if status.state == "ready":
            body = page.routine(listing, base, exports.made(key))
        else:  # made now (a failed one is tried again); the page follows its progress
            exports.request(name, key, "audio")
            body = page.routine(listing, base, None)
        self._send_page(listing.title, body)

    def _status(self, name: str) -> None:
        exports = self.server.site.exports
        status: Status = exports.status(name, exports.key(name), "audio")
        answer = {"state": status.state, "progress": status.progress, "error": status.error}
        self._send(HTTPStatus.OK, json.dumps(answer).encode(), "application/json", no_store=True)

    def _made(self, name: str, job: str) -> str | None:
        """The key of `name`'s files once `job` has made them (waiting for it), or None after
        an error answer."""
        exports = self.server.site.exports
        key = exports.key(name)
        status = exports.wait(name, key, job)
        if status.state != "ready":
            self._send_text(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"could not make it: {status.error}\n"
            )
            return None
        return key

    def _chapters(self, name: str) -> None:
        key = self._made(name, "audio")
        if key is not None:
            chapters = feed.chapters(self.server.site.exports.made(key))
            self._send(HTTPStatus.OK, json.dumps(chapters).encode(), "application/json+chapters")

    def _feed(self, base: str) -> None:
        exports = self.server.site.exports
        items = []
        for name in routines.names():
            listing = routines.listing(name, exports.options)
            key = exports.key(name)
            audio = exports.path(key, "m4a")
            made = exports.status(name, key, "audio").state == "ready"
            duration = exports.made(key)["duration"] if made else listing.duration
            home = page.link(base, name)
            items.append(
                feed.Item(
                    name=name,
                    key=key,
                    title=listing.title,
                    summary=listing.summary or page.facts(listing),
                    duration_ms=duration,
                    audio_url=self._absolute(home + "/audio.m4a"),
                    audio_bytes=audio.stat().st_size if made else 0,
                    chapters_url=self._absolute(home + "/chapters.json"),
                    transcript_url=self._absolute(home + "/transcript.vtt"),
                    page_url=self._absolute(home),
                    published=_published(name),
                )
            )
        rss = feed.rss(items, self._absolute(base + "/"), self._absolute(base + "/cover.png"))
        self._send(HTTPStatus.OK, rss, "application/rss+xml; charset=utf-8", no_store=True)

    def _absolute(self, path: str) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}{path}"

    # --- files --------------------------------------------------------------------------

    def _file(self, name: str, suffix: str) -> None:
        key = self._made(name, JOB_OF[suffix])
        if key is None:
            return
        path = self.server.site.exports.path(key, suffix)
        try:
            fd = os.open(
                path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            )
        except OSError:
            return self._send_text(HTTPStatus.NOT_FOUND, "not found\n")
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                return self._send_text(HTTPStatus.NOT_FOUND, "not found\n")
            self._send_file(file, info.st_size, TYPES[suffix], f"{name}.{suffix}")

    def _send_file(self, file: BinaryIO, size: int, kind: str, filename: str) -> None:
        try:
            span = byte_range(self.headers.get("Range"), size)
        except Unsatisfiable:
            return self._send_text(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                "range not satisfiable\n",
                {"Content-Range": f"bytes */{size}"},
            )
        first, last = span if span is not None else (0, size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        self._headers(kind, last - first + 1)
        self.send_header("Accept-Ranges", "bytes")
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        disposition = "attachment" if kind.startswith("text/vtt") else "inline"
        self.send_header(
            "Content-Disposition", f"{disposition}; filename*=UTF-8''{_quoted(filename)}"
        )
        self.end_headers()
        if not self.body:
            return
        file.seek(first)
        left = last - first + 1
        with contextlib.suppress(ConnectionError):  # the player moved on: a seek, a pause
            while left > 0:
                chunk = file.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    # --- answers ------------------------------------------------------------------------

    def _headers(self, kind: str, length: int, no_store: bool = False) -> None:
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the token stays in this site
        self.send_header("Cache-Control", "no-store" if no_store else "private, no-cache")

    def _send(
        self,
        code: HTTPStatus,
        data: bytes,
        kind: str,
        extra: dict[str, str] | None = None,
        no_store: bool = False,
    ) -> None:
        self.send_response(code)
        self._headers(kind, len(data), no_store)
        for header, value in (extra or {}).items():
            self.send_header(header, value)
        self.end_headers()
        if self.body:
            with contextlib.suppress(ConnectionError):
                self.wfile.write(data)

    def _send_text(self, code: HTTPStatus, text: str, extra: dict[str, str] | None = None) -> None:
        self.body = getattr(self, "body", True) and self.command != "HEAD"
        self._send(code, text.encode(), "text/plain; charset=utf-8", extra, no_store=True)

    def _send_page(self, title: str, body: str) -> None:
        nonce = secrets.token_urlsafe(16)
        policy = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        html = page.render(title, body, nonce).encode()
        self._send(
            HTTPStatus.OK,
            html,
            "text/html; charset=utf-8",
            {"Content-Security-Policy": policy},
            no_store=True,
        )


def _quoted(filename: str) -> str:
    from urllib.parse import quote

    return quote(filename, safe="")


def _published(name: str) -> float:
    """When a routine's file last changed: its place in a podcast app's list."""
    from .. import catalog

    path = catalog.builtin_routines().get(name) or catalog.user_folder() / f"{name}.toml"
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
