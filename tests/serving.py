"""`voiceguide serve` started for a test: a real process on the loopback address, with the
espeak-ng engine, brief detail and one short technique of the user's own, so its audio is
made in seconds."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TECHNIQUE = """\
title = "Shoulder roll"
summary = "Roll each shoulder back, slowly."
posture = "chair"
equipment = ["chair"]
sides = ["right", "left"]
position = "Sit tall."
steps = [
  { breathe = "in", seconds = 3, say = "Breathe in." },
  { say = "Roll your {side} shoulder back." },
  { hold = 6 },
  { breathe = "out", seconds = 3, say = "Breathe out." },
]
"""
ARGS = ("--port", "0", "--engine", "espeak", "--detail", "brief")


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[str]
    url: str
    """http://127.0.0.1:PORT/TOKEN/"""
    config: Path
    """XDG_CONFIG_HOME of the server."""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 0

    @property
    def token(self) -> str:
        return urlsplit(self.url).path.strip("/")

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """`path` sent as it is (no normalizing of `..` or escapes), on a new connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            answer = connection.getresponse()
            body = answer.read()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body
        finally:
            connection.close()

    def get(self, tail: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        return self.request(f"/{self.token}/{tail}", **kwargs)


def environment(config: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(config), PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def serving(config: Path, *args: str) -> Iterator[Served]:
    """The server, with TECHNIQUE among the user's techniques in `config`; stopped with
    Ctrl-C (SIGINT) at the end if still running."""
    (config / "voiceguide" / "techniques").mkdir(parents=True, exist_ok=True)
    (config / "voiceguide" / "techniques" / "shoulder-roll.toml").write_text(TECHNIQUE)
    process = subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "serve", *ARGS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(config),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Serving your routines at "), first + process.stderr.read()
        yield Served(process, first.split()[-1], config)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def wait_until(check: Callable[[], object], seconds: float = 60, step: float = 0.2) -> None:
    """Until `check()` is true, or fail."""
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(step)
