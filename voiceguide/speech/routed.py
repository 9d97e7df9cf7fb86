"""An engine that hands each cue its voice cannot read to the espeak-ng voice that can
(`scripts.route`): what `open_engine` returns, so `export`, `play` and the cache see one engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Self

from ..clip import Clip
from ..config import Settings
from .base import Engine, VoiceInfo
from .scripts import Route, route


class Routed:
    """`primary`, with espeak-ng (opened on the first cue that needs it) for other scripts."""

    def __init__(self, primary: Engine, workers: int | None = None) -> None:
        self.primary = primary
        self.name = primary.name
        self._workers = workers
        self._other: Engine | None = None

    @property
    def engine_id(self) -> str:
        """The primary engine's: a cue is routed by its text alone, so its key says it all."""
        return self.primary.engine_id

    @property
    def startup_seconds(self) -> list[float]:
        return list(getattr(self.primary, "startup_seconds", []))

    def voices(self) -> tuple[VoiceInfo, ...]:
        return self.primary.voices()

    def resolve_voice(self, name: str) -> str:
        return self.primary.resolve_voice(name)

    def start(self) -> None:
        self.primary.start()

    def close(self) -> None:
        self.primary.close()
        if self._other is not None:
            self._other.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
        from . import unavailable

        espeak = unavailable("espeak") is None
        routes = [route(self.name, settings.voice, text, espeak) for text in texts]
        if not any(routes):
            return self.primary.synthesize(texts, settings)
        return self._mixed(list(texts), routes, settings)

    def _mixed(
        self, texts: list[str], routes: list[Route | None], settings: Settings
    ) -> Iterator[Clip]:
        from . import open_engine

        if self._other is None:
            self._other = open_engine("espeak", self._workers, routed=False)
        other: dict[int, Clip] = {}
        for voice in {r.voice for r in routes if r is not None}:
            mine = [i for i, r in enumerate(routes) if r is not None and r.voice == voice]
            said = replace(settings, engine="espeak", voice=voice)
            made = self._other.synthesize([texts[i] for i in mine], said)
            other.update(zip(mine, made, strict=True))
        main = self.primary.synthesize(
            [t for t, r in zip(texts, routes, strict=True) if r is None], settings
        )
        for index in range(len(texts)):
            yield other.pop(index) if index in other else next(main)
