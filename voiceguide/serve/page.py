"""The pages: one HTML template (page.html: the layout, its style, and a little plain
JavaScript for chapters, captions and progress), filled with the index or a routine. Every
text from a routine is escaped here; the script reads the cues from a JSON block."""

from __future__ import annotations

import functools
import html
import json
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote

from .routines import Listing


@functools.cache
def _template() -> Template:
    return Template(resources.files(__package__).joinpath("page.html").read_text("utf-8"))


def render(title: str, body: str, nonce: str) -> str:
    return _template().substitute(title=html.escape(title), body=body, nonce=nonce)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def clock(ms: int) -> str:
    """m:ss, or h:mm:ss from an hour."""
    hours, rest = divmod(round(ms / 1000), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def link(base: str, name: str, tail: str = "") -> str:
    """The URL of routine `name`'s page, or of one of its files (`tail`), token included."""
    return f"{base}/r/{quote(name, safe='')}{tail}"


def facts(listing: Listing) -> str:
    parts = [f"{clock(listing.duration)} min"]
    if listing.postures:
        parts.append(", ".join(listing.postures))
    parts.append("needs: " + ", ".join(listing.equipment) if listing.equipment else "no equipment")
    return " · ".join(_e(part) for part in parts)


def index(listings: list[Listing], base: str, feed_url: str) -> str:
    items = "\n".join(
        f'<li><a href="{_e(link(base, item.name))}">{_e(item.title)}</a>'
        f'<p class="facts">{facts(item)}</p>'
        + (f'<p class="facts">{_e(item.summary)}</p>' if item.summary else "")
        + "</li>"
        for item in listings
    )
    return (
        "<h1>Your routines</h1>\n"
        f'<ul class="routines">\n{items}\n</ul>\n'
        "<h2>In a podcast app</h2>\n"
        "<p>Subscribe to this feed (copy the link, then add it by URL in the app) to have "
        "every routine there, with its chapters and transcript:</p>\n"
        f'<p><a href="{_e(feed_url)}">{_e(feed_url)}</a></p>'
    )


def routine(listing: Listing, base: str, made: dict[str, Any] | None) -> str:
    """A routine's page: the player, the caption of the moment, the chapters, the chart and
    downloads once its audio is made; until then, how far the making has come."""
    top = (
        f'<p><a href="{_e(base)}/">← All routines</a></p>\n'
        f"<h1>{_e(listing.title)}</h1>\n"
        f'<p class="facts">{facts(listing)}</p>\n'
        + (f"<p>{_e(listing.summary)}</p>\n" if listing.summary else "")
    )
    if made is None:
        said = (
            "<span data-said>Making the audio of this routine with your settings; "
            "this page plays it as soon as it is ready.</span>"
        )
        return top + (
            f'<div id="making" data-status="{_e(link(base, listing.name, "/status"))}">\n'
            f"<p>{said}</p>\n"
            '<label for="made">Made so far</label>\n'
            '<progress id="made" max="1" value="0">0%</progress>\n'
            "<noscript><p>Reload this page in a minute or two.</p></noscript>\n</div>"
        )
    audio = link(base, listing.name, "/audio.m4a")
    chapters = "\n".join(
        f'<li><a href="{_e(audio)}#t={c["start"] / 1000:.3f}" '
        f'data-start="{c["start"] / 1000:.3f}">{_e(c["title"])}</a>'
        f'<span class="time">{clock(c["start"])}</span></li>'
        for c in made["chapters"]
    )
    cues = json.dumps(made["cues"], ensure_ascii=True).replace("<", "\\u003c")
    downloads = [
        ("audio.m4a", "M4A (AAC, with chapters and cover)", "m4a"),
        ("audio.mp3", "MP3 (with chapters)", "mp3"),
        ("transcript.vtt", "Transcript (WebVTT)", "vtt"),
    ]
    files = "\n".join(
        f'<li><a href="{_e(link(base, listing.name, "/" + tail))}" '
        f'download="{_e(listing.name)}.{suffix}">{label}</a></li>'
        for tail, label, suffix in downloads
    )
    return top + (
        f'<audio controls preload="metadata" src="{_e(audio)}" '
        f'aria-label="{_e(listing.title)}, {clock(made["duration"])}"></audio>\n'
        '<p class="caption" data-caption aria-live="polite" aria-label="Said now"></p>\n'
        f'<script type="application/json" id="cues">{cues}</script>\n'
        '<h2 id="chapters-title">Chapters</h2>\n'
        f'<nav aria-labelledby="chapters-title"><ol class="chapters">\n{chapters}\n</ol></nav>\n'
        "<h2>Chart</h2>\n"
        f'<a href="{_e(link(base, listing.name, "/chart.png"))}">'
        f'<img class="chart" src="{_e(link(base, listing.name, "/chart.png"))}" '
        f'alt="A chart of the routine: each part on its own row, its holds, breaths and '
        f'speech along a time axis in minutes (opens full size)"></a>\n'
        f'<h2>Download</h2>\n<ul class="downloads">\n{files}\n</ul>'
    )
