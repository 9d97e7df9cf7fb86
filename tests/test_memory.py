"""Memory stays flat whatever the number and length of distinct cues: the clips live on disk
(voiceguide/store.py), the renderer keeps only the few leveled clips it is mixing, and export
streams 10-second blocks. scripts/bench measures the same with espeak-ng, as peak RSS."""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api
from voiceguide.clip import SAMPLE_RATE
from voiceguide.speech import FakeSynthesizer
from voiceguide.store import ClipStore
from voiceguide.tape import Rest

from .conftest import decode
from .memory_probe import watch

WORDS = ["slowly", "gently", "breathe", "shoulders", "ribs", "spine", "chest", "neck", "jaw"]


def long_cues(folder: Path, cues: int, words: int = 80) -> Path:
    """A routine of `cues` distinct spoken steps of `words` words (about 32 s each)."""
    out = ['title = "Long cues"', "transition = 1"]
    for t in range(0, cues, 10):
        steps = []
        for n in range(t, min(t + 10, cues)):
            text = " ".join(WORDS[(n * 7 + i * (n % 5 + 1)) % len(WORDS)] for i in range(words))
            steps.append(f"{{ say = {json.dumps(f'Part {n}. {text}.')} }}")
        out += ["[[technique]]", f'title = "Part {t}"', f"steps = [{', '.join(steps)}]"]
    path = folder / f"long-{cues}.toml"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def export_peak(folder: Path, cues: int) -> tuple[int, int]:
    """(peak bytes allocated while exporting, bytes of speech clips in the routine)."""
    routine = long_cues(folder, cues)
    engine = FakeSynthesizer()
    gc.collect()
    tracemalloc.start()
    try:
        timeline = api.export(str(routine), folder / f"out-{cues}.wav", engine=engine)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    speech = (
        sum(e.duration for e in timeline.events if e.kind == "speech") * 2 * SAMPLE_RATE // 1000
    )
    return peak, speech


def test_export_memory_does_not_grow_with_the_cues(tmp_path: Path) -> None:
    few, few_speech = export_peak(tmp_path, 10)
    many, many_speech = export_peak(tmp_path, 60)
    assert many_speech > 5 * few_speech > 5 * 10_000_000  # minutes of distinct speech
    assert many < 60_000_000, f"{many / 1e6:.0f} MB for {many_speech / 1e6:.0f} MB of speech"
    assert many - few < 5_000_000, f"{few / 1e6:.0f} MB, then {many / 1e6:.0f} MB"
    audio = decode(tmp_path / "out-60.wav")
    assert np.abs(audio).max() > 1000 and len(audio) * 2 > many_speech  # all of it, audible


def test_the_store_keeps_a_few_clips_in_memory_and_all_on_disk(tmp_path: Path) -> None:
    from voiceguide.config import Settings

    engine = FakeSynthesizer()
    texts = [f"Cue number {n} says something long enough to matter." for n in range(40)]
    clips = list(engine.synthesize(texts, Settings()))
    with ClipStore(keep=4) as store:
        for text, clip in zip(texts, clips, strict=True):
            store.add(text, clip)
        assert len(store._recent) == 4
        assert [store[t] for t in texts] == clips  # each read back from disk, checked
        assert [store.length_ms(t) for t in texts] == [c.duration_ms for c in clips]
        folder = store.folder
        assert len(os.listdir(folder)) == len(texts)
    assert not folder.exists(), "the store's folder goes with it"


def test_a_store_beside_an_unwritable_cache_uses_a_temporary_folder(tmp_path: Path) -> None:
    from voiceguide.cache import ClipCache

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with ClipStore(ClipCache(blocker / "clips")) as store:
        assert store.folder.is_dir() and not store.folder.is_relative_to(blocker)


@pytest.mark.parametrize("damage", ["removed", "changed"])
def test_a_clip_lost_from_the_store_is_one_clear_error(tmp_path: Path, damage: str) -> None:
    from voiceguide.config import Settings
    from voiceguide.errors import VoiceguideError

    texts = [f"Text {n}." for n in range(3)]
    with ClipStore(keep=1) as store:
        for text, clip in zip(texts, FakeSynthesizer().synthesize(texts, Settings()), strict=True):
            store.add(text, clip)
        path = store.folder / "0.wav"
        if damage == "removed":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[:-1])
        with pytest.raises(VoiceguideError, match="damaged or removed while in use"):
            store[texts[0]]


def test_stored_audio_reads_back_in_pieces_and_a_released_buffer_keeps_its_data(
    tmp_path: Path,
) -> None:
    from voiceguide.tape import PIECE, Stored, mapped, release

    rng = np.random.default_rng(1)
    a = rng.integers(-30000, 30000, (PIECE + 12345, 2), dtype=np.int16)
    b = rng.integers(-30000, 30000, (999, 2), dtype=np.int16)
    first, second = Stored([a[:5000], a[5000:]], tmp_path), Stored([b], tmp_path)
    assert len(first) == len(a) and np.array_equal(first[7 : PIECE + 9], a[7 : PIECE + 9])
    assert np.array_equal(np.concatenate([first, second]), np.concatenate([a, b]))
    assert list(os.listdir(tmp_path)) == [], "unnamed files: nothing to leave behind"
    rest = Rest(((first, 100, len(a)), (second, 0, len(b))))
    assert rest.channels == 2
    buffer, mapping = mapped(len(rest) + 50, tmp_path, 2)
    assert rest.copy_to(buffer, 10, 3000, mapping) == 3000  # a start, then the rest
    done = 3000 + rest_after(rest, 3000).copy_to(buffer, 3010, len(rest), mapping)
    assert done == len(rest)
    release(mapping, 0, len(buffer), 2)
    silence = np.zeros((10, 2), np.int16)
    expected = np.concatenate([silence, a[100:], b, np.zeros((40, 2), np.int16)])
    assert np.array_equal(buffer, expected)


def rest_after(rest: Rest, skip: int) -> Rest:
    """`rest` without its first `skip` samples (what the player asks the program for)."""
    (stored, start, stop), *others = rest.parts
    return Rest(((stored, start + skip, stop), *others))


@pytest.mark.speech
@pytest.mark.timeout(900)  # a 60-minute routine, made and mixed
def test_a_60_minute_export_with_a_bed_stays_within_the_benchs_bound(tmp_path: Path) -> None:
    """The bench's bound for a 60-minute export (200 MB of RSS, scripts/bench_lib/sections.py),
    in stereo with the bed mixed under every block: the peak of the export process and its
    speech workers (memory_probe), espeak-ng speaking."""
    import subprocess
    import sys

    steps = ", ".join(
        f'{{ say = "Part {n}: breathe slowly, and let your shoulders soften." }}, {{ hold = 290 }}'
        for n in range(12)
    )
    routine = tmp_path / "hour.toml"
    routine.write_text(
        f'title = "An hour"\n[[technique]]\ntitle = "Long holds"\nsteps = [{steps}]\n',
        encoding="utf-8",
    )
    out = tmp_path / "hour.flac"
    command = [sys.executable, "-m", "voiceguide", "export", str(routine), "-o", str(out)]
    command += ["--engine", "espeak", "--ambience", "brown-noise"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    peak_mb = watch(proc)
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert peak_mb <= 200, f"{peak_mb:.0f} MB"
    import soundfile

    assert soundfile.info(str(out)).frames > 60 * 60 * SAMPLE_RATE * 0.98
    quiet, _ = soundfile.read(
        str(out), start=200 * SAMPLE_RATE, stop=210 * SAMPLE_RATE, dtype="int16"
    )
    assert quiet.shape[1] == 2
    assert np.abs(quiet).max() > 100  # inside a hold: the bed alone
