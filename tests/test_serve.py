"""voiceguide serve through HTTP, on 127.0.0.1 only: the token, GET and HEAD only, byte ranges,
MIME types, traversal attempts and symlinks, the feed, a port in use, Ctrl-C."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import probe
from .serving import ARGS, Served, environment, serving, wait_until

pytestmark = pytest.mark.speech
ROLL = "r/shoulder-roll"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("config")) as server:
        yield server


@pytest.fixture(scope="module")
def audio(served: Served) -> bytes:
    """The M4A of the short technique, made on demand by the first request for it."""
    status, headers, body = served.get(f"{ROLL}/audio.m4a")
    assert status == 200, body
    assert headers["content-type"] == "audio/mp4"
    assert headers["accept-ranges"] == "bytes"
    return body


@pytest.mark.parametrize(
    "path", ["/", "/feed.xml", "/cover.png", "/r/shoulder-roll/audio.m4a", "/x" * 20, "/%00", "//"]
)
def test_nothing_is_served_without_the_token(served: Served, path: str) -> None:
    for tried in (path, f"/{served.token[:-1]}{path}", f"/{served.token}x{path}"):
        status, _, body = served.request(tried)
        assert status == 403, tried
        assert b"<html" not in body and b"ftyp" not in body


def test_the_index_lists_the_routines_with_the_token(served: Served) -> None:
    status, headers, body = served.get("")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "nonce-" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    page = body.decode()
    for title in ("Shoulder roll", "Desk break", "Upper-back release", "Floor and wall"):
        assert title in page
    assert f'href="/{served.token}/r/shoulder-roll"' in page
    assert "chair" in page  # posture and equipment


def test_only_get_and_head(served: Served) -> None:
    get = served.get("")
    head = served.get("", method="HEAD")
    assert head[0] == 200 and head[2] == b""
    assert head[1]["content-type"] == get[1]["content-type"]
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"):
        status, headers, _ = served.get("", method=method)
        assert status == 405, method
        assert headers["allow"] == "GET, HEAD"
        assert served.request("/", method=method)[0] == 403  # no token: refused first


def test_byte_ranges(served: Served, audio: bytes) -> None:
    size = len(audio)
    for asked, first, last in [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, size - 1),
        ("bytes=-500", size - 500, size - 1),
        (f"bytes=10-{size + 100}", 10, size - 1),
    ]:
        status, headers, body = served.get(f"{ROLL}/audio.m4a", headers={"Range": asked})
        assert status == 206, asked
        assert headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert body == audio[first : last + 1]
        assert int(headers["content-length"]) == last - first + 1
    for asked in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
        status, headers, body = served.get(f"{ROLL}/audio.m4a", headers={"Range": asked})
        assert status == 416, asked
        assert headers["content-range"] == f"bytes */{size}"
    head = served.get(f"{ROLL}/audio.m4a", method="HEAD", headers={"Range": "bytes=0-9"})
    assert head[0] == 206 and head[2] == b"" and head[1]["content-length"] == "10"


def test_the_audio_is_the_routine_in_aac_with_chapters(served: Served, audio: bytes, tmp_path):
    path = tmp_path / "roll.m4a"
    path.write_bytes(audio)
    info = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_chapters", "-show_streams", "-of", "json", path],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    assert info["streams"][0]["codec_name"] == "aac"
    titles = [c["tags"]["title"] for c in info["chapters"]]
    assert titles == ["Introduction", "Shoulder roll", "Closing"]
    status, headers, body = served.get(f"{ROLL}/chapters.json")
    assert status == 200 and headers["content-type"] == "application/json+chapters"
    chapters = json.loads(body)["chapters"]
    assert [c["title"] for c in chapters] == titles
    assert [c["startTime"] for c in chapters] == [
        pytest.approx(float(c["start_time"]), abs=0.002) for c in info["chapters"]
    ]


@pytest.mark.parametrize(
    ("tail", "kind", "starts"),
    [
        ("transcript.vtt", "text/vtt; charset=utf-8", b"WEBVTT"),
        ("chart.png", "image/png", b"\x89PNG"),
        ("audio.mp3", "audio/mpeg", b"ID3"),
    ],
)
def test_mime_types(served: Served, audio: bytes, tail: str, kind: str, starts: bytes) -> None:
    status, headers, body = served.get(f"{ROLL}/{tail}")
    assert status == 200
    assert headers["content-type"] == kind
    assert headers["x-content-type-options"] == "nosniff"
    assert body.startswith(starts)


SECRET = "SECRET-d41d8cd98f00"


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize(
    "tail",
    [
        "../../../../etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "r/..%2f..%2f..%2fetc%2fpasswd",
        "r/shoulder-roll/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "r/shoulder-roll/../../../etc/passwd",
        "r/%2e%2e/audio.m4a",
        "r/shoulder-roll/%2e%2e%2f%2e%2e%2fvoiceguide%2ftechniques%2fshoulder-roll.toml",
        "r/..%252f..%252fetc%252fpasswd",
        "r/shoulder-roll/audio.m4a%00.png",
        "r/shoulder-roll/audio.m4a/..",
        "r/%2fetc%2fpasswd",
        "r//etc/passwd",
        "r/shoulder-roll/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "..\\..\\etc\\passwd",
        "r/shoulder-roll/..\\..\\secret.txt",
        "r/shoulder-roll.toml",
        "r/shoulder-roll/KEY",
    ],
)
def test_traversal_serves_nothing_outside(served: Served, secret: Path, tail: str) -> None:
    for method in ("GET", "HEAD"):
        status, _, body = served.get(tail, method=method)
        assert status in (400, 403, 404), (tail, status)
        assert b"root:" not in body and SECRET.encode() not in body
        assert b"Shoulder roll" not in body and b"ftyp" not in body


def test_a_symlink_in_the_cache_is_never_followed(served: Served, audio, secret: Path) -> None:
    """A file of the cache replaced by a link to a file outside: the link is not read, nor
    written through; the file is made again."""
    folder = Path(environment(served.config)["XDG_CACHE_HOME"]) / "voiceguide" / "serve"
    (vtt,) = folder.glob("*.vtt")
    vtt.unlink()
    vtt.symlink_to(secret)
    status, _, body = served.get(f"{ROLL}/transcript.vtt")
    assert status == 200
    assert body.startswith(b"WEBVTT") and SECRET.encode() not in body
    assert secret.read_text() == SECRET
    assert not vtt.is_symlink()


def test_the_feed(served: Served, audio: bytes, tmp_path: Path) -> None:
    status, headers, body = served.get("feed.xml")
    assert status == 200
    assert headers["content-type"] == "application/rss+xml; charset=utf-8"
    ns = {
        "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
        "podcast": "https://podcastindex.org/namespace/1.0",
    }
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    # the feed's picture, as RSS and Apple name it: a square PNG of 1400 px, by ffprobe
    cover = root.find("channel/itunes:image", ns)
    assert cover is not None and cover.get("href") == f"{served.url}cover.png"
    assert root.findtext("channel/image/url") == cover.get("href")
    status, headers, png = served.get("cover.png")
    assert status == 200 and headers["content-type"] == "image/png"
    (tmp_path / "cover.png").write_bytes(png)
    stream = probe(tmp_path / "cover.png")["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("png", 1400, 1400)
    items = {item.findtext("title"): item for item in root.iter("item")}
    assert {"Shoulder roll", "Desk break", "Upper-back release", "Floor and wall"} <= set(items)
    roll = items["Shoulder roll"]
    enclosure = roll.find("enclosure")
    assert enclosure is not None and enclosure.get("type") == "audio/mp4"
    assert int(enclosure.get("length", "")) == len(audio)
    url = enclosure.get("url", "")
    assert url == f"{served.url}{ROLL}/audio.m4a"
    assert int(roll.findtext("itunes:duration", namespaces=ns) or 0) > 30
    chapters = roll.find("podcast:chapters", ns)
    transcript = roll.find("podcast:transcript", ns)
    assert chapters is not None and chapters.get("type") == "application/json+chapters"
    assert transcript is not None and transcript.get("type") == "text/vtt"
    for item in items.values():  # every URL carries the token
        urls = [e.get("url", "") for e in item.iter() if e.get("url")]
        assert len(urls) == 3 and all(u.startswith(served.url) for u in urls)
    # the enclosure answers a range request, as a podcast app's player asks
    path = url.removeprefix(served.url[: -len(served.token) - 2])
    status, headers, part = served.request(path, headers={"Range": "bytes=0-1023"})
    assert status == 206 and part == audio[:1024]


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "voiceguide", "serve", "--port", str(port), *ARGS[2:]],
            capture_output=True,
            text=True,
            env=environment(tmp_path),
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: 127.0.0.1:{port} is already in use (another program, or voiceguide serve "
        "running); choose another port with --port\n"
    )


def test_ctrl_c_stops_it_at_once_and_a_kept_token_stays(tmp_path: Path) -> None:
    """Ctrl-C ends it without waiting for a phone that waits on an export (upper-back's takes
    longer than the 5 s allowed), exit 130, no traceback; --keep-token keeps the token."""
    tokens = []
    for _ in range(2):
        with serving(tmp_path, "--keep-token") as server:
            assert server.get("")[0] == 200
            tokens.append(server.token)
            waiting = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            waiting.request("GET", f"/{server.token}/r/upper-back/audio.m4a")
            time.sleep(0.5)
            server.process.send_signal(signal.SIGINT)
            assert server.process.wait(5) == 130
            assert server.process.stderr is not None
            assert server.process.stderr.read() == "\ninterrupted\n"  # no teardown noise
            waiting.close()
    assert tokens[0] == tokens[1]
    assert f'serve_token = "{tokens[0]}"' in (tmp_path / "voiceguide" / "config.toml").read_text()
    with serving(tmp_path) as server:  # without --keep-token: a new one each time
        assert server.token != tokens[0]


def test_on_the_home_network_it_prints_the_url_and_a_qr_code(run, monkeypatch) -> None:
    """--host 0.0.0.0 without binding it: the server is a stand-in that stops at once."""
    from voiceguide import serve

    class Stopped:
        server_address = ("0.0.0.0", 8765)

        def serve_forever(self, poll_interval: float) -> None:
            raise KeyboardInterrupt

        def server_close(self) -> None:
            pass

    monkeypatch.setattr(serve, "start", lambda host, port, site: Stopped())
    monkeypatch.setattr("socket.gethostbyname_ex", lambda name: (name, [], ["192.0.2.7"]))
    result = run("serve", "--host", "0.0.0.0", "--engine", "espeak")
    assert result.status == 130
    url = result.out.splitlines()[0].split()[-1]
    assert url.startswith("http://192.0.2.7:8765/") and len(url.split("/")[3]) == 32
    assert "▀" in result.out or "█" in result.out  # the QR code, in half blocks
    assert "Anyone on this network with the address can listen" in result.err


def test_a_config_gone_wrong_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        (tmp_path / "voiceguide" / "config.toml").write_text("rate = 5000\n")
        status, _, body = server.get("r/shoulder-roll")
        assert status == 500
        assert body.decode().endswith("rate: must be words per minute from 60 to 400, got 5000\n")
        assert server.get("")[0] == 500
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(5) == 130
        assert server.process.stderr is not None
        assert "Traceback" not in server.process.stderr.read()


def test_an_export_that_fails_says_why_on_the_page(tmp_path: Path) -> None:
    """A bed the config names but that is not there: the listing still works, the page
    follows the export, and its status says what went wrong."""
    with serving(tmp_path) as server:
        (tmp_path / "voiceguide" / "config.toml").write_text('ambience = "rain.wav"\n')
        status, _, body = server.get(ROLL)
        assert status == 200 and b"<progress" in body
        answers = []

        def failed() -> bool:
            answers.append(json.loads(server.get(f"{ROLL}/status")[2]))
            return answers[-1]["state"] == "failed"

        wait_until(failed, seconds=60)
        assert "rain.wav" in answers[-1]["error"]
        status, _, body = server.get(f"{ROLL}/audio.m4a")
        assert status == 500 and b"rain.wav" in body


def test_one_export_at_a_time(tmp_path: Path) -> None:
    """Two routines asked for at once: the second waits, queued, until the first is made."""
    from .serving import TECHNIQUE

    folder = tmp_path / "voiceguide" / "techniques"
    folder.mkdir(parents=True)
    other = TECHNIQUE.replace("Shoulder roll", "Other roll").replace("6 }", "7 }")
    (folder / "other-roll.toml").write_text(other)
    with serving(tmp_path, "--pace", "1.1") as server:  # audio no other test has made
        for name in ("shoulder-roll", "other-roll"):
            assert server.get(f"r/{name}")[0] == 200
        seen = []

        def both_made() -> bool:
            states = tuple(
                json.loads(server.get(f"r/{name}/status")[2])["state"]
                for name in ("shoulder-roll", "other-roll")
            )
            seen.append(states)
            return states == ("ready", "ready")

        wait_until(both_made, seconds=120, step=0.05)
    assert ("making", "making") not in seen
    assert ("making", "queued") in seen  # the second waited for the first
