"""A speech worker's entry point: `python -I _host.py ENGINE` (see `workers` and `serving`).

Run as a file, so the worker uses this very copy of voiceguide (a source checkout or an
installed one) whatever the working directory.
"""

import os
import signal
import sys

if __name__ == "__main__":
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import importlib

    module = importlib.import_module(f"voiceguide.speech.{sys.argv[1]}")
    from voiceguide.speech.serving import serve

    try:  # noqa: SIM105 (the worker imports as little as it can)
        serve(module.load_backend)
    except (OSError, KeyboardInterrupt):
        pass  # the parent has gone
    os._exit(0)
