"""The natural voice: hibari-tts, a small ONNX model distilled from Kokoro-82M (Apache-2.0),
whose American English voice "heart" ships inside its wheel.

It runs in worker processes (`workers`), the model loaded once per worker on one onnxruntime
thread. What it does that the rest of voiceguide must not let through, each handled here:
other voices download on first use (only voices already on disk are offered, and a model is
always opened by its path, so nothing is ever fetched); `[word](/ipa/)` in text is read as a
pronunciation (square brackets become round ones, so cue text stays text); its output
carries random noise (seed 0 makes every clip bit-identical); its `speed` moves the length
unevenly (`rates` calibrates it). Its lead-in silence and quieter level are evened out by
`finish` and the renderer, as for every engine.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError
from ..estimate import LONE_LETTER, accents, spoken
from .base import VoiceInfo, dist_version, resolve_voice, too_long
from .base import cue as _cue
from .rates import CALIBRATIONS, FINISH, estimate_ms, plausible
from .workers import Pool, PooledEngine

DEFAULT_VOICE = "heart"
PIECES = "pieces-2"
"""How a cue is cut for hibari (`pieces`), part of the engine's id: clips cut another way are
made again, not taken from the cache."""
PRIVATE = {"ORT_DISABLE_TELEMETRY": "1"}
"""onnxruntime (1.29 and later, on Linux and macOS) otherwise keeps a device id and a queue of
usage events (the OS, the CPU, the program's path) under the user's cache folder and sends
them to Microsoft when it can; set before it loads, this is its whole opt-out: no id, no
queue, no upload. The backend sets it before it imports hibari, in a worker or anywhere
else: the natural voice stays offline and private."""
LANGUAGES = {"en-us": "heart", "en": "heart", "english": "heart", "en-gb": "emma"}
"""Languages as the other engines name them, and the voice that speaks each (if installed)."""


MAX_WORD = 24
"""hibari reads a word it does not know with a spelling model that sees its first 24
characters and drops the rest; a longer word (a URL, a path, a long compound) is cut first."""
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD + 1},}}")
_INSIDE = re.compile(r"[\W_]+")


def _cut(word: re.Match[str]) -> str:
    """A long word as words hibari reads whole: cut at its punctuation ("example.com/a/b"),
    then into even runs of at most MAX_WORD characters, so every letter of it is said."""
    out: list[str] = []
    for part in _INSIDE.split(word.group()):
        runs = math.ceil(len(part) / MAX_WORD)
        size = math.ceil(len(part) / runs) if runs else 1
        out += [part[i : i + size] for i in range(0, len(part), size)]
    return " ".join(out)


def _named_marks(letter: re.Match[str]) -> str:
    """A lone accented letter as espeak-ng says it, the letter and its accent's name ("Ĵ": "J
    circumflex"): hibari says nothing at all for some ("Ĵ", "ǰ", "ḱ")."""
    names = accents(letter.group())
    if not names:
        return letter.group()
    return " ".join([unicodedata.normalize("NFD", letter.group())[0], *names])


def _text(text: str) -> str:
    """Cue text as hibari must see it: no control characters, no `[word](/ipa/)` syntax, no
    word longer than it reads (MAX_WORD), symbols and lone accented letters named."""
    text = LONE_LETTER.sub(_named_marks, spoken(text)).replace("[", "(").replace("]", ")")
    return " ".join(_LONG_WORD.sub(_cut, text).split())


@functools.cache
def _registry() -> dict[str, dict[str, Any]]:
    """hibari's voice registry, read from its file without importing hibari (numpy, onnx)."""
    spec = importlib.util.find_spec("hibari")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError("the natural voice needs hibari-tts, which is not installed")
    folder = next(iter(spec.submodule_search_locations))
    with open(os.path.join(folder, "assets", "voices.json"), encoding="utf-8") as f:
        voices: dict[str, dict[str, Any]] = json.load(f)
    for voice in voices.values():
        voice["path"] = (
            os.path.join(folder, "assets", voice["file"])
            if voice.get("bundled")
            else os.path.join(_hibari_home(), voice["file"])
        )
    return voices


def _hibari_home() -> str:
    """Where hibari keeps downloaded voices (as hibari.voices.cache_dir says)."""
    import sys

    if os.environ.get("HIBARI_HOME"):
        return os.environ["HIBARI_HOME"]
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Local"
        )
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hibari")


def installed_voices() -> tuple[VoiceInfo, ...]:
    """The voices whose model is on disk: the only ones offered (others would download)."""
    found = []
    for name, voice in _registry().items():
        if os.path.isfile(voice["path"]):
            language = str(voice["language"]).casefold()
            label = f"{voice['accent']} English, {voice['gender']} (Kokoro {voice['kokoro']})"
            found.append(VoiceInfo(name, label, (language,)))
    return tuple(found)


def resolve_natural(name: str, voices: tuple[VoiceInfo, ...]) -> str:
    """A voice id from an id ("heart") or a language ("en-us")."""
    wanted = name.strip().casefold().replace("_", "-")
    if wanted in LANGUAGES and any(v.id == LANGUAGES[wanted] for v in voices):
        return LANGUAGES[wanted]
    return resolve_voice(name, voices, "natural")


def unavailable() -> str | None:
    """Why the natural voice cannot speak here, or None (cheap: nothing is loaded)."""
    for module, package in (("hibari", "hibari-tts"), ("onnxruntime", "onnxruntime")):
        if importlib.util.find_spec(module) is None:
            return f"the natural voice needs {package}, which is not installed"
    try:
        voices = installed_voices()
    except (SpeechError, OSError, ValueError) as exc:
        return f"the natural voice's files are damaged ({exc})"
    if not voices:
        return "the natural voice's model is missing from hibari-tts"
    return None


def _hibari_version() -> str:
    """hibari-tts's version, from its dist-info folder beside the package: importlib.metadata
    would cost every warm `show` 12 ms."""
    spec = importlib.util.find_spec("hibari")
    if spec is not None and spec.submodule_search_locations:
        folder = os.path.dirname(next(iter(spec.submodule_search_locations)))
        found = dist_version(folder, "hibari-tts")
        if found is not None:
            return found
    from importlib.metadata import version

    return version("hibari-tts")


def _engine_id() -> str:
    version = _hibari_version()
    model = _registry()[DEFAULT_VOICE]["sha256"][:12]
    return f"natural/hibari-{version}/model-{model}/{PIECES}/{FINISH}"


class NaturalEngine(PooledEngine):
    """hibari-tts in a pool of worker processes."""

    name = "natural"

    def __init__(
        self, workers: int | None = None, timeout: float = 30.0, startup_timeout: float = 60.0
    ) -> None:
        reason = unavailable()
        if reason:
            raise SpeechError(reason)
        self.engine_id = _engine_id()
        size = workers if workers is not None else min(2, os.cpu_count() or 1)
        self._pool = Pool("natural", size=size, timeout=timeout, startup_timeout=startup_timeout)

    @property
    def startup_seconds(self) -> list[float]:
        return self._pool.startup_seconds

    def voices(self) -> tuple[VoiceInfo, ...]:
        return installed_voices()

    def resolve_voice(self, name: str) -> str:
        return resolve_natural(name, self.voices())

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        self.start()
        return self._synthesize(list(texts), settings)

    def _synthesize(self, texts: list[str], settings: Settings) -> Iterator[Clip]:
        voice = self.resolve_voice(settings.voice)
        speed, stretch = CALIBRATIONS["natural"].control(settings.rate)
        cleaned = [_text(text) for text in texts]
        for text in cleaned:
            if error := too_long(text):
                raise error
        # The stretch is done here, not in the worker: Rubber Band would add 25 MB to a worker
        # that is already at 200 MB with its model and lexicon.
        request = {"voice": voice, "control": speed, "stretch": 1.0}
        spoken = [t for t in cleaned if t]
        clips = self._pool.run(spoken, lambda _: request)
        for text in cleaned:
            if not text:
                yield Clip(b"")
                continue
            clip = next(clips)
            if stretch != 1.0:
                from .finish import pcm16_floats, stretched

                clip = stretched(pcm16_floats(clip.pcm), stretch)
            if not plausible(self.name, text, settings.rate, clip.duration_ms):
                expected = estimate_ms(self.name, text, settings.rate)
                raise SpeechError(
                    f"the natural speech engine produced a clip of {clip.duration_ms} ms for "
                    f"{_cue(text)}, about {expected} ms expected"
                )
            yield clip


# --- The worker's side ----------------------------------------------------------------------

PIECE_CHARS = 176
"""The longest sentence hibari is given, in characters at `speed` 1 (at `speed` s, s times
as many; 121 at `--rate` 150, longer than any sentence of the built-in routines): its memory
grows with the audio of the sentence it says (about 3 MB a second), on top of the 200 MB a
worker holds with its model and lexicon, and onnxruntime's arena would keep the largest for
ever (so it is off). Cues of 80 words cut so peaked at 225 MB a worker at `--rate` 150 and
243 MB at 100; one 82-word sentence took 418 MB with the arena."""
MIN_SPEED = 0.5
"""hibari's slowest `speed` (CALIBRATIONS): no piece is shorter than PIECE_CHARS times this."""
_CLAUSE = re.compile(r"(?<=[,;:\u2014])\s+")


def piece_chars(control: float) -> int:
    """The longest piece at hibari's `speed` `control`: its audio, and so its memory, is bound."""
    return int(PIECE_CHARS * max(MIN_SPEED, control))


def _runs(clause: str, limit: int) -> list[str]:
    """A clause longer than `limit` in even runs of whole words (each word fits: `_text`)."""
    words = clause.split()
    runs = max(1, math.ceil(len(clause) / limit))
    while True:
        size = math.ceil(len(words) / runs)
        chunks = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
        if all(len(chunk) <= limit for chunk in chunks) or size == 1:
            return chunks
        runs += 1


def pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """`text` as hibari is given it: whole sentences together (hibari says one sentence at a
    time, so they cost no more memory than the longest), a sentence longer than `limit` cut at
    its clauses (packed up to `limit`), and only a clause longer than that into even runs of
    words. Sentences are found as hibari finds them. Speech pauses at every cut but the last
    kind, so hibari's own pause, kept at each piece's ends, joins them as it joins its own
    sentences."""
    from hibari.tts import Hibari

    out: list[str] = []
    whole: list[str] = []
    for sentence in Hibari.split_sentences(text):
        sentence = sentence.strip()
        if len(sentence) <= limit:
            whole.append(sentence)
            continue
        if whole:
            out.append(" ".join(whole))
            whole = []
        packed = ""
        for clause in _CLAUSE.split(sentence):
            for chunk in [clause] if len(clause) <= limit else _runs(clause, limit):
                if packed and len(packed) + 1 + len(chunk) <= limit:
                    packed += " " + chunk
                else:
                    if packed:
                        out.append(packed)
                    packed = chunk
        if packed:
            out.append(packed)
    if whole:
        out.append(" ".join(whole))
    return [piece for piece in out if piece.strip()]


class _Backend:
    def __init__(self) -> None:
        os.environ.update(PRIVATE)  # before onnxruntime loads
        import hibari

        self.version = f"hibari-{hibari.__version__}"
        self._models: dict[str, Any] = {}
        self._model(DEFAULT_VOICE).g2p  # noqa: B018 (loaded before the worker says it is ready)

    def voices(self) -> list[tuple[str, str, list[str]]]:
        return [(v.id, v.name, list(v.languages)) for v in installed_voices()]

    def _model(self, voice: str) -> Any:
        if voice not in self._models:
            from hibari import Hibari

            path = _registry()[voice]["path"]
            if not os.path.isfile(path):  # never let hibari download it
                raise SpeechError(f"voice {voice!r} is not installed")
            onnxruntime: Any = importlib.import_module("onnxruntime")
            opened = onnxruntime.InferenceSession

            def lean(model: str, options: Any = None, *args: Any, **kwargs: Any) -> Any:
                if options is not None:  # no arena: it would keep its largest size for ever
                    options.enable_cpu_mem_arena = False
                return opened(model, options, *args, **kwargs)

            onnxruntime.InferenceSession = lean  # hibari makes its session with its own options
            try:
                self._models[voice] = Hibari(voice=voice, model=path, threads=1)
            finally:
                onnxruntime.InferenceSession = opened
        return self._models[voice]

    def speak(self, text: str, voice: str, control: float) -> tuple[Any, int]:
        """Piece by piece (`pieces`): hibari's memory grows with the length of what it says at
        once (see PIECE_CHARS). Each piece keeps the silence hibari puts at its ends, so two
        pieces meet as two of its sentences do: the voice's own pause, no cut."""
        import numpy as np

        model = self._model(voice)
        rate = int(model.sample_rate)
        parts = [
            model(piece, speed=control, seed=0) for piece in pieces(text, piece_chars(control))
        ]
        return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), rate


def load_backend() -> _Backend:
    return _Backend()
