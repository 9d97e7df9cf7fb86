"""scripts/calibrate: words per minute heard at each setting of an engine's own speed control,
and a least-squares fit of its length model, over the built-in routines' cues."""

from __future__ import annotations

import re
import sys

import numpy as np

from voiceguide import catalog
from voiceguide.compiler import cue_texts
from voiceguide.config import Settings
from voiceguide.estimate import _features
from voiceguide.speech import open_engine

WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
ODD = ("T.", "Z.", "Hold.", "One.", "Three. Two. One.", "Ten seconds left.", "Twenty-five.")
CONTROLS = {
    "natural": sorted(
        {round(0.5 + 0.05 * i, 2) for i in range(31)}
        | {0.52, 0.56, 0.58, 0.62, 0.66, 0.67, 0.68, 0.69, 0.82, 0.84, 0.87}  # around jumps
    ),
    "espeak": [80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 220, 250, 280,
               300, 350, 400],
}  # fmt: skip


def corpus() -> list[str]:
    texts: list[str] = []
    for name in catalog.builtin_routines():
        texts += cue_texts(catalog.load_routine(name))
    return list(dict.fromkeys(texts))


def words(texts: list[str]) -> int:
    return sum(len(WORD.findall(text)) for text in texts)


def heard_wpm(engine: str, texts: list[str], rate: int) -> float:
    """Words per minute heard through voiceguide, clips trimmed as they are rendered."""
    with open_engine(engine) as running:
        clips = list(running.synthesize(texts, Settings(rate=rate, engine=engine)))
    seconds = sum(c.frames / c.sample_rate for c in clips)
    return words(texts) / seconds * 60


def table(engine: str, texts: list[str]) -> None:
    """The raw control -> heard table (no calibration applied)."""
    from voiceguide.speech import finish

    print(f"# {engine}: control, words per minute heard ({len(texts)} cues, {words(texts)} words)")
    with open_engine(engine, routed=False) as running:
        for control in CONTROLS[engine]:
            if engine == "espeak":
                raw = running.raw(texts, Settings(rate=int(control)))  # type: ignore[attr-defined]
                clips = [finish.finish(finish.pcm16_floats(c.pcm), c.sample_rate) for c in raw]
            else:
                pool = running._pool  # type: ignore[attr-defined]
                request = {"voice": "heart", "control": control, "stretch": 1.0}
                clips = list(pool.run(texts, lambda _, r=request: r))
            seconds = sum(c.frames / c.sample_rate for c in clips)
            print(f"({control}, {words(texts) / seconds * 60:.1f}),", flush=True)


def fit(engine: str, texts: list[str]) -> None:
    rows, seen = [], []
    all_texts = texts + list(ODD)
    with open_engine(engine) as running:
        for rate in (100, 150, 200, 250, 300):
            clips = running.synthesize(all_texts, Settings(rate=rate, engine=engine))
            for text, clip in zip(all_texts, clips, strict=True):
                letters, word_count, pauses, breaks, _ = _features(text)
                scale = 60000 / rate
                rows.append(
                    [scale * letters, scale * word_count, scale * pauses, scale * breaks, 1]
                )
                seen.append(clip.duration_ms)
    a, y = np.array(rows, dtype=float), np.array(seen, dtype=float)
    coef, *_ = np.linalg.lstsq(a / y[:, None], np.ones_like(y), rcond=None)
    ratio = (a @ coef) / y
    print(f"# {engine} length model: {tuple(round(float(c), 4) for c in coef)}")
    print(
        f"#   observed / model: min {1 / ratio.max():.2f}, max {1 / ratio.min():.2f}, "
        f"99% within {np.quantile(1 / ratio, 0.005):.2f}-{np.quantile(1 / ratio, 0.995):.2f}"
    )
    for rate in (100, 150, 200, 250, 300):
        print(f"#   --rate {rate}: heard {heard_wpm(engine, texts, rate):.1f} wpm")


def main() -> None:
    texts = corpus()
    for engine in [a for a in sys.argv[1:] if not a.startswith("--")] or ["natural", "espeak"]:
        if "--fit-only" not in sys.argv:
            table(engine, texts)
        fit(engine, texts)


if __name__ == "__main__":
    main()
