"""A speech worker: espeak-ng through pyttsx3's ctypes binding, one clip per request.

Run as a script by `espeak_spawn` (which, like `espeak_pool`, imports this module only for the
protocol's constants):

    python -I -S .../speech/_espeak_worker.py .../pyttsx3/drivers/_espeak.py [--voices] [--fork]

--voices: list espeak-ng's voices when ready. --fork: speak each clip in a fresh fork.

It imports little more than os, struct, mmap and ctypes, and pyttsx3's binding (loaded from
its file, without the pyttsx3 package and its engine), so it is ready in about 20 ms. See
docs/espeak-engine.md for why it works the way it does.

The protocol, on stdin and stdout, little-endian:

    request  "<IiiII" task id, rate, volume 0-100, length of the voice id, of the text;
             then the voice id and the text, UTF-8. End of input: exit at once.
    reply    "<BIiI"  kind, task id, value, length of the payload; then the payload.
             READY  value: sample rate; payload: espeak-ng's version, then (with --voices)
                    each voice as id, name, language: fields split by 0x1f, voices by 0x1e
             CLIP   value: sample rate; payload: mono 16-bit PCM, native byte order
             ERROR  value: 0, or the signal (negative) or exit status that ended the clip;
                    payload: what went wrong, UTF-8
             FAILED value: 0; payload: why espeak-ng cannot start (then the worker exits)
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

TYPE_CHECKING = False  # `typing` takes 7 ms to import
if TYPE_CHECKING:
    import signal
    from typing import Any
else:
    import _signal as signal  # what `signal` wraps in enums, which take 6 ms to import

REQUEST = struct.Struct("<IiiII")
REPLY = struct.Struct("<BIiI")
READY, CLIP, ERROR, FAILED = 1, 2, 3, 4
FIELD, RECORD = "\x1f", "\x1e"

STARTUP_BLOCKED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
"""Blocked from the moment the parent spawns a worker until the worker ignores Ctrl-C."""

_PR_SET_PDEATHSIG = 1

_OUTCOME = struct.Struct("<QQ")
"""At the start of the shared samples: what a clip's process did, and the size of the samples
(or of the error message) that follow."""
_NOTHING, _SPOKEN, _FAILED = 0, 1, 2

Buffer = bytes | memoryview


def _force_plain_text(espeak: Any) -> None:
    """Make every espeak_Synth call treat `<...>` and `[[...]]` as text, whatever it is passed."""
    synth = espeak.Synth
    markup = espeak.SSML | espeak.PHONEMES

    def plain_synth(*args: Any, flags: int = 0, **kwargs: Any) -> Any:
        return synth(*args, flags=flags & ~markup, **kwargs)

    espeak.Synth = plain_synth


def _load_binding(path: str) -> Any:
    """pyttsx3's `drivers/_espeak.py`, loaded from its file: importing it as
    `pyttsx3.drivers._espeak` would first run the pyttsx3 package, engine and all (12 ms)."""
    from importlib.machinery import SourceFileLoader

    module = type(sys)("_espeak")
    module.__file__ = path
    SourceFileLoader("_espeak", path).exec_module(module)
    return module


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd`, or None at the end of input."""
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _write_all(fd: int, data: Buffer) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Engine:
    """espeak-ng, initialized for synchronous output into shared memory, in this process."""

    CAPACITY = 64 << 20
    """Bytes of samples a clip may have: 25 minutes. The longest cue espeak-ng is given, 5000
    characters at rate 80, is about 7 minutes. Only the pages a clip uses are ever allocated."""

    def __init__(self, binding: str) -> None:
        import mmap

        espeak = self.espeak = _load_binding(binding)
        _force_plain_text(espeak)
        # Synchronous: espeak_Synth returns when the whole text has gone through the callback,
        # and espeak_SetParameter / SetVoiceByName take effect at once (no queue to race).
        self.sample_rate = int(espeak.Initialize(espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000, None, 0))
        if self.sample_rate <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self.version = str(espeak.Info(None).decode("ascii", "replace"))
        # Shared with each clip's process (MAP_SHARED): it writes the samples, we send them.
        self.samples = mmap.mmap(-1, self.CAPACITY)
        self._address = ctypes.addressof(ctypes.c_char.from_buffer(self.samples)) + _OUTCOME.size
        self.size = 0
        self._failure = ""
        espeak.SetSynthCallback(self._on_samples)
        self.voice = ""
        self._prctl: Any = None
        try:  # noqa: SIM105 (contextlib is one import more)
            self._prctl = ctypes.CDLL(None).prctl  # Linux
        except (OSError, AttributeError):
            pass

    def _on_samples(self, wav: Any, count: int, events: Any) -> int:
        try:
            if count > 0:
                size = 2 * count
                if _OUTCOME.size + self.size + size > self.CAPACITY:
                    self._failure = "the clip is too long"
                    return 1  # abort the synthesis
                ctypes.memmove(self._address + self.size, wav, size)
                self.size += size
            return 0
        except BaseException as exc:  # an exception here would only be "ignored" by ctypes
            self._failure = f"{type(exc).__name__}: {exc}"
            return 1

    def voices(self) -> list[str]:
        found = []
        for voice in self.espeak.ListVoices(None):
            language = voice.languages[1:].decode("utf-8", "replace") if voice.languages else ""
            identifier = voice.identifier.decode("utf-8", "replace")
            name = voice.name.decode("utf-8", "replace")
            found.append(FIELD.join((identifier, name, language)))
        return found

    def set_voice(self, voice: str) -> None:
        """Load a voice (its dictionary too); kept until another is set."""
        if voice != self.voice:
            self.voice = ""
            status = self.espeak.SetVoiceByName(voice.encode("utf-8"))
            if status != 0:
                raise RuntimeError(f"cannot set voice {voice!r} (espeak-ng error {status})")
            self.voice = voice

    def speak(self, text: str, rate: int, volume: int) -> int:
        """Synthesize into `samples` (after the outcome); how many bytes the clip is."""
        espeak = self.espeak
        for parameter, value in ((espeak.RATE, rate), (espeak.VOLUME, volume)):
            status = espeak.SetParameter(parameter, value, 0)
            if status != 0:
                raise RuntimeError(f"cannot set parameter {parameter} to {value}: error {status}")
        self.size = 0
        self._failure = ""
        status = espeak.Synth(text.encode("utf-8"), flags=espeak.CHARS_UTF8 | espeak.ENDPAUSE)
        if self._failure:
            raise RuntimeError(self._failure)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with error {status}")
        return self.size

    def clip(self, text: str, voice: str, rate: int, volume: int) -> tuple[int, int, Buffer]:
        """Speak in this process; the reply: (kind, value, payload)."""
        try:
            self.set_voice(voice)
            size = self.speak(text, rate, volume)
        except Exception as exc:
            return ERROR, 0, (str(exc) or type(exc).__name__).encode("utf-8", "replace")
        return (
            CLIP,
            self.sample_rate,
            memoryview(self.samples)[_OUTCOME.size : _OUTCOME.size + size],
        )

    def clip_in_child(
        self, text: str, voice: str, rate: int, volume: int
    ) -> tuple[int, int, Buffer]:
        """Speak in a fresh fork of this process, so that every clip starts from the state
        espeak-ng has here, where it has only been initialized: the clip depends on nothing
        said before. The child sets the voice too: setting voices here, 75 changes on, shifts
        what every later clip sounds like (0.1 ms a clip). About 3 ms more per clip in all
        (the fork, the pages it copies, its exit).

        Returns the reply: (kind, value, payload).
        """
        outcome = self.samples
        outcome[: _OUTCOME.size] = _OUTCOME.pack(_NOTHING, 0)
        pid = os.fork()
        if pid == 0:  # the clip's process: speak, leave the samples in `samples`, and go
            try:
                self._die_with_worker()
                try:
                    self.set_voice(voice)
                    size = self.speak(text, rate, volume)
                except Exception as exc:
                    message = (str(exc) or type(exc).__name__).encode("utf-8", "replace")
                    size = len(message)
                    outcome[_OUTCOME.size : _OUTCOME.size + size] = message
                    outcome[: _OUTCOME.size] = _OUTCOME.pack(_FAILED, size)
                else:
                    outcome[: _OUTCOME.size] = _OUTCOME.pack(_SPOKEN, size)
            finally:
                os._exit(0)
        _, wait_status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        what, size = _OUTCOME.unpack_from(outcome)
        if code != 0 or what == _NOTHING:
            return ERROR, code or 1, b""
        payload = memoryview(outcome)[_OUTCOME.size : _OUTCOME.size + size]
        if what == _FAILED:
            return ERROR, 0, payload
        return CLIP, self.sample_rate, payload

    def _die_with_worker(self) -> None:
        """A clip's process dies with its worker (killed on a timeout, say), not after it."""
        worker = os.getppid()
        if self._prctl is not None:
            self._prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != worker:  # the worker died before prctl
            os._exit(1)


def serve(binding: str, with_voices: bool, fork: bool) -> None:
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # only replies go to the parent; anything else printed is dropped
    os.close(devnull)
    try:
        engine = Engine(binding)
        voices = engine.voices() if with_voices else []
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
        _write_all(out, REPLY.pack(FAILED, 0, 0, len(message)) + message)
        return
    speak = engine.clip_in_child if fork else engine.clip
    ready = RECORD.join([engine.version, *voices])
    report = ready.encode("utf-8")
    _write_all(out, REPLY.pack(READY, 0, engine.sample_rate, len(report)) + report)
    while True:
        header = _read_exactly(0, REQUEST.size)
        if header is None:
            return
        task_id, rate, volume, voice_size, text_size = REQUEST.unpack(header)
        body = _read_exactly(0, voice_size + text_size)
        if body is None:
            return
        voice = body[:voice_size].decode("utf-8")
        text = body[voice_size:].decode("utf-8")
        payload: Buffer
        try:
            kind, value, payload = speak(text, voice, rate, volume)
        except Exception as exc:
            kind, value, payload = ERROR, 0, (str(exc) or type(exc).__name__).encode()
        _write_all(out, REPLY.pack(kind, task_id, value, len(payload)))
        _write_all(out, payload)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # and what a closed terminal does
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STARTUP_BLOCKED)  # blocked at the spawn
    try:  # noqa: SIM105 (contextlib is one import more)
        serve(sys.argv[1], with_voices="--voices" in sys.argv[2:], fork="--fork" in sys.argv[2:])
    except OSError:
        pass  # the parent has gone: nobody left to tell
    os._exit(0)  # at once: nothing to flush, and espeak-ng has nothing to clean up


if __name__ == "__main__":
    main()
