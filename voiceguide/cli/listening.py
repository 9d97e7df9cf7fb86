"""`voiceguide mic`: check the microphone that `play --listen` hears through."""

from __future__ import annotations

import math
import queue
import sys
import time

import click

from ..errors import AudioDeviceError
from .app import cli
from .options import MIC

BAR = 30
"""Columns of the level bar: -60 dBFS to 0."""


@cli.command("mic")
@click.option("--list", "list_", is_flag=True, help="List the inputs --mic can name, and stop.")
@click.option(
    "--seconds",
    type=click.FloatRange(0.5, 3600),
    default=None,
    help="Stop after this many seconds (default: at Ctrl-C).",
)
@MIC
def mic(list_: bool, seconds: float | None, mic: str | None) -> None:
    """Check the microphone for 'play --listen': its level as a bar, and each command it
    recognizes (pause, continue, next, back, more time, stop, it hurts), until Ctrl-C.

    Nothing is recorded or kept: each moment of sound is heard and dropped.
    """
    from ..listen import Gate, Listener, MicrophoneError
    from ..listen.microphone import find, inputs

    try:
        if list_:
            found = inputs()
            if not found:
                raise MicrophoneError("no input device (no microphone) was found")
            for device in found:
                mark = "*" if device.default else " "
                click.echo(f"{mark} {device.index:>3}  {device.name}  ({device.rate:g} Hz)")
            return
        device = find(mic)
    except MicrophoneError as exc:
        raise AudioDeviceError(f"{exc}; plug one in, or check your sound settings") from exc
    heard: queue.SimpleQueue[str] = queue.SimpleQueue()
    levels: list[float] = [-math.inf]
    gate = Gate()
    gate.window(-math.inf, math.inf)  # no guide speaking: always listening
    click.echo(f"Listening on {device.name}. Say a command; Ctrl-C to stop.")
    tty = sys.stdout.isatty()
    count = 0
    end = time.monotonic() + seconds if seconds is not None else math.inf
    with Listener(heard.put, gate, str(device.index), level=levels.append) as listener:
        if not listener.listening:
            raise AudioDeviceError(f"cannot listen on {device.name}")
        try:
            last_line = 0.0
            while time.monotonic() < end:
                time.sleep(0.1)
                while not heard.empty():
                    count += 1
                    click.echo(("\r\x1b[K" if tty else "") + f"heard: {heard.get()}")
                level = max(levels[-10:])
                del levels[:-10]
                if tty:
                    click.echo("\r\x1b[K" + _bar(level), nl=False)
                elif time.monotonic() - last_line >= 1:
                    click.echo(f"level: {level:.0f} dBFS")
                    last_line = time.monotonic()
                if not listener.listening:
                    raise AudioDeviceError(f"{device.name} stopped sending sound")
        except KeyboardInterrupt:
            pass
    if tty:
        click.echo("\r\x1b[K", nl=False)
    click.echo(f"heard {count} command(s)")


def _bar(level: float) -> str:
    filled = round(BAR * min(max(level + 60, 0), 60) / 60) if math.isfinite(level) else 0
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {level:5.0f} dBFS"
