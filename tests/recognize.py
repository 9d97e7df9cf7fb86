"""An offline recognizer for tests: which cue does this stretch of audio say?

pocketsphinx (its wheel ships a US-English acoustic model and CMUdict) searches only a JSGF
grammar whose alternatives are the cue texts, so every segment is heard as one cue (or as a
broken-off prefix of one, when no whole cue fits). Settings that matter, all measured on
espeak-ng's en-us voice at 120, 200 and 250 words per minute:

- **A noise floor.** Rendered speech has stretches of exact digital silence; their log
  energy is degenerate and throws off pocketsphinx's batch CMN and noise removal (28% zero
  samples in a short cue cost 10-20% of cues). A fixed Gaussian floor of NOISE_LSB (about
  -66 dBFS, quieter than any real recording) makes every cue at every rate recognizable.
  sox's dither does not help: it leaves digital silence alone.
- **Wide beams, no bestpath.** With the default beams the right path through near-twins
  ("Stay on the tight spot, ..." / "Settle on the tightest spot, ...") is pruned; with
  wide beams the lattice bestpath pass then ends some hypotheses one word short ("... turn
  your chest to the"). Viterbi's own answer, beams at 1e-80, is right on every cue.
- **16 kHz.** The model's rate. An FFT resampler (exact band limit, no subprocess) scores
  the same as `sox -R rate -h` here; segments start and end in near silence, so the FFT's
  circular edges do not matter.

One decoder per process, configured once; `RecognizerPool` spreads segments over the
cores, and never decodes the same samples twice (a cue said the same way on every rep).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import numpy.typing as npt
import pocketsphinx

MODEL_RATE = 16000
NOISE_LSB = 16.0
"""Standard deviation of the noise floor, in 16-bit steps."""
DECODER_SETTINGS: dict[str, object] = {
    "beam": 1e-80,
    "wbeam": 1e-60,
    "pbeam": 1e-80,
    "bestpath": False,
}

Int16Array = npt.NDArray[np.int16]


def words(text: str) -> str:
    """A cue as the recognizer spells it: lower case, words only ("Self-hug." -> "self hug")."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def grammar(cues: Iterable[str]) -> str:
    """A JSGF grammar whose only sentences are the cues."""
    phrases = sorted({words(cue) for cue in cues})
    if not phrases or "" in phrases:
        raise ValueError("every cue needs at least one word")
    body = " | ".join(f"( {phrase} )" for phrase in phrases)
    return f"#JSGF V1.0;\ngrammar cues;\npublic <cue> = {body};\n"


def resample(x: Int16Array, rate: int, to: int = MODEL_RATE) -> npt.NDArray[np.float64]:
    """Band-limited resampling through the FFT (keeps the bins below the new Nyquist)."""
    n = len(x)
    m = (n * to + rate // 2) // rate
    if n == 0 or m == 0:
        return np.zeros(m)
    spectrum = np.fft.rfft(x.astype(np.float64))
    kept = np.zeros(m // 2 + 1, dtype=np.complex128)
    k = min(len(spectrum), len(kept))
    kept[:k] = spectrum[:k]
    return np.fft.irfft(kept, m) * (m / n)


def for_model(x: Int16Array, rate: int) -> bytes:
    """Samples at `rate` -> 16 kHz int16 with the noise floor: what the decoder is fed.
    Deterministic: the same samples always give the same bytes."""
    y = resample(x, rate)
    y = y + np.random.default_rng(0).normal(0.0, NOISE_LSB, len(y))
    return np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()


class Recognizer:
    """One pocketsphinx decoder limited to `cues`, reused for every segment."""

    def __init__(self, cues: Iterable[str]) -> None:
        self._decoder = pocketsphinx.Decoder(
            lm=None, samprate=MODEL_RATE, loglevel="FATAL", **DECODER_SETTINGS
        )
        cues = tuple(cues)
        vocabulary = {word for cue in cues for word in words(cue).split()}
        unknown = sorted(w for w in vocabulary if self._decoder.lookup_word(w) is None)
        if unknown:
            raise ValueError(f"words missing from the recognizer's dictionary: {unknown}")
        self._decoder.add_jsgf_string("cues", grammar(cues))
        self._decoder.activate_search("cues")

    def __call__(self, pcm: bytes) -> str:
        """The words heard in 16 kHz mono int16 `pcm` ("" when nothing fits)."""
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


_worker: Recognizer | None = None


def _start_worker(cues: tuple[str, ...]) -> None:
    global _worker
    _worker = Recognizer(cues)


def _recognize_batch(batch: list[bytes]) -> list[str]:
    assert _worker is not None
    return [_worker(pcm) for pcm in batch]


class RecognizerPool:
    """`Recognizer`s in worker processes (one per core, at most `processes`), started once.
    Remembers what it heard: a segment seen before (the same samples) is not decoded again."""

    def __init__(self, cues: Iterable[str], processes: int | None = None) -> None:
        self.cues = tuple(cues)
        self.processes = processes or min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._local: Recognizer | None = None
        self._heard: dict[tuple[int, str], str] = {}
        self.decoded_seconds = 0.0
        """Audio actually decoded (after de-duplication), for the runtime report."""

    def __enter__(self) -> RecognizerPool:
        if self.processes > 1:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.cues,),
            )
        else:
            self._local = Recognizer(self.cues)
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def recognize(self, segments: Sequence[Int16Array], rate: int) -> list[str]:
        """What is heard in each segment (mono int16 samples at `rate`), in order."""
        keys = [(rate, hashlib.sha1(segment.tobytes()).hexdigest()) for segment in segments]
        todo: dict[tuple[int, str], bytes] = {}
        for key, segment in zip(keys, segments, strict=True):
            if key not in self._heard and key not in todo:
                todo[key] = for_model(segment, rate)
        self.decoded_seconds += sum(len(pcm) for pcm in todo.values()) / 2 / MODEL_RATE
        # Longest first, dealt round-robin: each process gets about the same seconds of audio.
        order = sorted(todo, key=lambda k: -len(todo[k]))
        if self._local is not None:
            self._heard.update((k, self._local(todo[k])) for k in order)
        elif order:
            assert self._pool is not None, "use the pool in a with block"
            batches = [order[i :: self.processes] for i in range(self.processes)]
            results = self._pool.map(_recognize_batch, [[todo[k] for k in b] for b in batches])
            for batch, heard in zip(batches, results, strict=True):
                self._heard.update(zip(batch, heard, strict=True))
        return [self._heard[key] for key in keys]
