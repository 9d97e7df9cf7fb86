"""The cache in front of a speech engine: `CachedSynthesizer` answers what it can from the
cache, sends only the misses to the engine in one batch, and holds no more clips than it must.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..clip import Clip
from ..config import Settings
from ..errors import SpeechError
from .clips import ClipCache

if TYPE_CHECKING:
    from ..speech import Synthesizer


class CachedSynthesizer:
    """A Synthesizer that answers from the cache and sends only the misses to `engine`.

    Holds no more clips than it must: a cached clip is read when its turn comes (one found
    damaged then is made first, with the misses still to come), and a new one is passed on as
    soon as it is made (kept only if its text comes again)."""

    def __init__(self, engine: Synthesizer, cache: ClipCache) -> None:
        self.engine = engine
        self.cache = cache

    @property
    def engine_id(self) -> str:
        return self.engine.engine_id

    def entry(self, text: str, settings: Settings) -> Path:
        """Where the clip for `text` is cached (once it has been yielded, if it could be)."""
        return self.cache.path(self.cache.key(text, settings, self.engine_id))

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        texts = list(texts)
        keys = [self.cache.key(text, settings, self.engine_id) for text in texts]
        cached = {key for key in dict.fromkeys(keys) if self.cache.has(key)}
        misses = {key: text for key, text in zip(keys, texts, strict=True) if key not in cached}
        # One batch for all misses, started now, so the engine works in parallel.
        fresh = self.engine.synthesize(list(misses.values()), settings) if misses else iter(())
        return self._merge(keys, texts, cached, deque(misses.items()), fresh, settings)

    def _merge(
        self,
        keys: list[str],
        texts: list[str],
        cached: set[str],
        coming: deque[tuple[str, str]],
        fresh: Iterator[Clip],
        settings: Settings,
    ) -> Iterator[Clip]:
        """`coming` is what `fresh` will yield, in order, as (key, text)."""
        held: dict[str, Clip] = {}
        left = Counter(keys)
        try:
            for key, text in zip(keys, texts, strict=True):
                left[key] -= 1
                clip = held.get(key)
                if clip is None and key in cached:
                    clip = self.cache.get(key)
                    if clip is None:  # removed or damaged since: make it first, then the rest
                        cached.discard(key)
                        _close(fresh)
                        coming.appendleft((key, text))
                        fresh = self.engine.synthesize([t for _, t in coming], settings)
                while clip is None:
                    made = next(fresh, None)
                    if made is None or not coming:
                        raise SpeechError("the speech engine returned fewer clips than cues")
                    made_key, _ = coming.popleft()
                    self.cache.put(made_key, made)
                    if made_key == key:
                        clip = made
                    else:
                        held[made_key] = made
                if left[key]:
                    held[key] = clip
                else:
                    held.pop(key, None)
                yield clip
        finally:
            _close(fresh)


def _close(stream: Iterator[Clip]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()
