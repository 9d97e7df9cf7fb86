"""Section 10: routines on a phone. A warm export to M4A against WAV and MP3 (the same clips,
espeak-ng so the clip cache fills in seconds), and `voiceguide serve`: how soon it answers,
how soon a range of a made file comes back, and how soon Ctrl-C ends it while a phone waits
on an export."""

from __future__ import annotations

import http.client
import signal
import subprocess
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from .core import ROOT, VOICEGUIDE, Context, Row, Run, run, sample, seconds

ROUTINE = "desk-break"
SECTION = "10. Routines on a phone (espeak-ng, desk-break, warm cache)"


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def measure(ctx: Context) -> list[Row]:
    env = ctx.env(ctx.tempdir("phone"))
    work = ctx.tempdir("phone-out")
    out = {suffix: work / f"routine.{suffix}" for suffix in ("wav", "m4a", "mp3")}

    def export(suffix: str) -> Callable[[], Run]:
        return lambda: run(
            [*VOICEGUIDE, "export", ROUTINE, "-o", str(out[suffix]), "--engine", "espeak"], env
        )

    export("wav")()  # fills the clip cache
    runs = sample({suffix: export(suffix) for suffix in out}, ctx.rounds(3, 1))
    wav = min(r.seconds for r in runs["wav"])
    rows = [
        Row(
            SECTION,
            f"export to {suffix.upper()}",
            min(r.seconds for r in runs[suffix]),
            "s",
            note=f"{out[suffix].stat().st_size / 1e6:.1f} MB",
            runs=seconds(runs[suffix]),
        )
        for suffix in out
    ]
    m4a = min(r.seconds for r in runs["m4a"])
    rows.append(Row(SECTION, "M4A / WAV", m4a / wav, "x"))

    started = time.perf_counter()
    server = subprocess.Popen(
        [*VOICEGUIDE, "serve", "--port", "0", "--engine", "espeak"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = urlsplit(server.stdout.readline().split()[-1])
        port, base = url.port or 0, url.path.rstrip("/")
        _get(port, base + "/")
        rows.append(
            Row(SECTION, "serve: start to the index answered", time.perf_counter() - started, "s")
        )
        made = time.perf_counter()
        _get(port, f"{base}/r/{ROUTINE}/audio.m4a", {"Range": "bytes=0-1"})
        rows.append(
            Row(SECTION, "serve: a routine's M4A made on demand", time.perf_counter() - made, "s")
        )
        asked = time.perf_counter()
        status, _ = _get(port, f"{base}/r/{ROUTINE}/audio.m4a", {"Range": "bytes=1000000-1065535"})
        assert status == 206, status
        rows.append(
            Row(SECTION, "serve: a 64 KB range of a made file", time.perf_counter() - asked, "s")
        )
        waiting = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        waiting.request("GET", f"{base}/r/upper-back/audio.m4a")  # an export under way
        time.sleep(1)
        stop = time.perf_counter()
        server.send_signal(signal.SIGINT)
        code = server.wait(30)
        rows.append(
            Row(
                SECTION,
                "serve: Ctrl-C to exit, a phone waiting on an export",
                time.perf_counter() - stop,
                "s",
                "< 1 s",
                time.perf_counter() - stop < 1,
                note=f"exit {code}",
            )
        )
        waiting.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return rows
