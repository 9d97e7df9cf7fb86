"""serve: the user's routines for a phone, as a web page and a podcast feed."""

from __future__ import annotations

import ipaddress
import socket
import sys

import click

from .. import api
from .app import cli
from .options import run_options

PORT = 8765


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on: 127.0.0.1 is this computer only; 0.0.0.0 (or one of its "
    "addresses) opens it to your home network, for a phone.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=PORT,
    show_default=True,
    help="The port to listen on (0: any free one).",
)
@click.option(
    "--keep-token",
    is_flag=True,
    help="Keep the access token in your config file, so bookmarks and podcast subscriptions "
    "work after a restart (default: a new token each time).",
)
@run_options()
def serve(host: str, port: int, keep_token: bool, options: api.Options) -> None:
    """Serve your routines to a phone: a page to play each (chapters, captions, downloads)
    and a podcast feed.

    Every address carries a secret token; without it, nothing is served. Audio is made with
    your settings when first asked for, one routine at a time, and kept. Ctrl-C stops it.
    """
    from ..serve import Exports, Site, start, token

    api.compile("upper-back", options, estimate_only=True)  # a wrong voice: refused now
    secret = token(keep_token)
    server = start(host, port, Site(secret, Exports(options)))
    try:
        port = server.server_address[1]
        urls = [f"http://{_url_host(name)}:{port}/{secret}/" for name in _shown_hosts(host)]
        click.echo(f"Serving your routines at {urls[0]}")
        for url in urls[1:]:
            click.echo(f"                      or {url}")
        if not _loopback(host):
            import segno

            click.echo("Open it on your phone (same network), or scan:")
            segno.make(urls[0], error="l").terminal(out=sys.stdout, compact=True)
            click.echo(
                "Anyone on this network with the address can listen; Ctrl-C stops it.", err=True
            )
        else:
            click.echo("This computer only (--host 0.0.0.0 for a phone). Ctrl-C stops it.")
        sys.stdout.flush()
        server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _shown_hosts(host: str) -> list[str]:
    """The addresses a phone would use: this machine's own for a wildcard address."""
    if host not in ("0.0.0.0", "::", ""):
        return [host]
    try:
        found = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        found = []
    own = [a for a in dict.fromkeys(found) if not ipaddress.ip_address(a).is_loopback]
    return own or [socket.gethostname()]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
