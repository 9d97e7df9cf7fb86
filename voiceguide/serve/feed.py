"""The podcast feed: RSS 2.0 with Apple's iTunes tags and Podcasting 2.0's chapters and
transcript, one item per routine, so a podcast app on the phone subscribes to the user's
routines. Written with the standard library's ElementTree (feedgen knows neither Podcasting
2.0 tag and brings lxml); ElementTree escapes every text and attribute."""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("podcast", PODCAST)


@dataclass(frozen=True, slots=True)
class Item:
    """One routine in the feed; URLs absolute, with the token."""

    name: str
    key: str
    title: str
    summary: str
    duration_ms: int
    audio_url: str
    audio_bytes: int
    """0 until the file is made: the app learns its length when it downloads it."""
    chapters_url: str
    transcript_url: str
    page_url: str
    published: float
    """Seconds since the epoch."""


def rss(items: Iterable[Item], home: str, cover_url: str) -> bytes:
    """The feed; `cover_url`: its square picture (`cover`), as RSS's image and Apple's."""
    channel_title = "voiceguide: your routines"
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")
    _text(channel, "title", channel_title)
    _text(channel, "link", home)
    _text(channel, "description", "Voice-guided mobility routines, made on this computer.")
    _text(channel, "language", "en")
    image = ET.SubElement(channel, "image")
    _text(image, "url", cover_url)
    _text(image, "title", channel_title)
    _text(image, "link", home)
    ET.SubElement(channel, f"{{{ITUNES}}}image", {"href": cover_url})
    _text(channel, f"{{{ITUNES}}}author", "voiceguide")
    _text(channel, f"{{{ITUNES}}}explicit", "false")
    ET.SubElement(channel, f"{{{ITUNES}}}category", {"text": "Health & Fitness"})
    _text(channel, f"{{{PODCAST}}}locked", "yes")  # not to be imported elsewhere
    for item in items:
        _item(channel, item)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def _item(channel: ET.Element, item: Item) -> None:
    node = ET.SubElement(channel, "item")
    _text(node, "title", item.title)
    _text(node, "description", item.summary)
    _text(node, "link", item.page_url)
    ET.SubElement(node, "guid", {"isPermaLink": "false"}).text = f"voiceguide-{item.key}"
    _text(node, "pubDate", email.utils.formatdate(item.published, usegmt=True))
    ET.SubElement(
        node,
        "enclosure",
        {"url": item.audio_url, "length": str(item.audio_bytes), "type": "audio/mp4"},
    )
    _text(node, f"{{{ITUNES}}}duration", str(round(item.duration_ms / 1000)))
    _text(node, f"{{{ITUNES}}}summary", item.summary)
    _text(node, f"{{{ITUNES}}}episodeType", "full")
    ET.SubElement(
        node,
        f"{{{PODCAST}}}chapters",
        {"url": item.chapters_url, "type": "application/json+chapters"},
    )
    ET.SubElement(
        node,
        f"{{{PODCAST}}}transcript",
        {"url": item.transcript_url, "type": "text/vtt", "language": "en"},
    )


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def chapters(made: dict[str, Any]) -> dict[str, Any]:
    """Podcasting 2.0's JSON chapters of a made routine: a start and a title for each."""
    return {
        "version": "1.2.0",
        "title": made["title"],
        "chapters": [
            {"startTime": c["start"] / 1000, "endTime": c["end"] / 1000, "title": c["title"]}
            for c in made["chapters"]
        ],
    }
