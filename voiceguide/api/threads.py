"""Work in the background: heavy imports while speech workers start, and the thread that
makes the player's audio."""

from __future__ import annotations

from collections.abc import Callable


def preload(*modules: str) -> None:
    """Import heavy modules in the background while speech workers start (they wait on pipes,
    so the two overlap); a later import then finds them ready."""
    import importlib

    for name in modules:
        background(importlib.import_module, name)


def background(target: Callable[..., object], *args: object) -> None:
    """Run `target` in a daemon thread that never receives Ctrl-C, SIGTERM or SIGHUP: they
    belong to the main thread, which holds off the signals while it starts a speech worker."""
    import signal
    import threading

    thread = threading.Thread(target=target, args=args, daemon=True)
    if not hasattr(signal, "pthread_sigmask"):  # Windows: signals go to the main thread anyway
        thread.start()
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {getattr(signal, n) for n in names})
    try:
        thread.start()  # a new thread starts with the mask of the one that starts it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
