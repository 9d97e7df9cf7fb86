"""Whether a session listens for voice commands, and the listener beside its player."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .options import Options

if TYPE_CHECKING:
    from ..listen import Gate
    from ..player import Controls

_log = logging.getLogger("voiceguide.listen")


def listens(options: Options) -> bool:
    """--listen or --no-listen, else the config's `listen`, else no."""
    from ..config import listen_config

    return options.listen if options.listen is not None else bool(listen_config().listen)


@contextlib.contextmanager
def listening(controls: Controls, options: Options) -> Iterator[Gate | None]:
    """When the session listens, a listener feeding `controls` while the block runs; yields
    the gate the player tells its silences to, or None when it does not listen (not asked,
    or no microphone: one warning). A --mic that names no input is an error; the config's, a
    warning (the microphone of yesterday may be unplugged today)."""
    if not listens(options):
        yield None
        return
    from ..config import listen_config
    from ..errors import UsageError
    from ..listen import Gate, Listener

    mic = options.mic if options.mic is not None else listen_config().mic
    gate = Gate()
    with contextlib.ExitStack() as stack:
        try:
            listener = stack.enter_context(
                Listener(lambda command: controls.put(command, "voice"), gate, mic)
            )
        except UsageError as exc:
            if options.mic is not None:
                raise
            _log.warning(f"not listening: {exc} (the config's mic); the session plays on")
            yield None
            return
        yield gate if listener.listening else None
