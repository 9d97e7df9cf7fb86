"""A stand-in engine for tests: no processes, no models."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence

from ..clip import SAMPLE_RATE, Clip
from ..config import Settings
from ..estimate import estimate_ms


class FakeSynthesizer:
    """A deterministic stand-in for tests: no processes, no espeak-ng.

    Each clip is a tone lasting `estimate_ms(text, rate)`, so timing code sees realistic
    lengths; the voice picks the pitch and the volume the loudness, so they change the audio.
    `calls` records every batch it was asked for (what a cache sent on, for instance).
    """

    engine_id = "fake-1"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        batch = tuple(texts)
        self.calls.append(batch)
        return (self.clip(text, settings) for text in batch)

    @staticmethod
    def clip(text: str, settings: Settings) -> Clip:
        """The clip `synthesize` yields for `text`."""
        import array
        import hashlib

        frames = estimate_ms(text, settings.rate) * SAMPLE_RATE // 1000
        period = 40 + hashlib.sha256(settings.voice.encode()).digest()[0] % 24
        amplitude = 12000 * min(1.0, max(0.0, settings.volume))
        cycle = array.array(
            "h", (round(amplitude * math.sin(2 * math.pi * i / period)) for i in range(period))
        )
        if sys.byteorder == "big":
            cycle.byteswap()
        pcm = cycle.tobytes() * (frames // period + 1)
        return Clip(pcm[: 2 * frames])
