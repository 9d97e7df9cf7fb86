"""The clip cache: hits, misses, damage, atomic writes, and sharing between processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from voiceguide.cache import CachedSynthesizer, ClipCache
from voiceguide.clip import SAMPLE_RATE, Clip
from voiceguide.config import Settings
from voiceguide.errors import SpeechError
from voiceguide.speech import FakeSynthesizer

from .conftest import Result

SETTINGS = Settings(rate=150, voice="en-us", volume=1.0)
TEXTS = ["Inhale.", "Hold for five breaths.", "Exhale and round your upper back.", "Switch."]


def expected(texts: Sequence[str], settings: Settings = SETTINGS) -> list[Clip]:
    return [FakeSynthesizer.clip(text, settings) for text in texts]


def entries(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def fake() -> FakeSynthesizer:
    return FakeSynthesizer()


@pytest.fixture
def cache(tmp_path: Path) -> ClipCache:
    return ClipCache(tmp_path / "clips", on_warning=pytest.fail)


def test_miss_then_hit(fake: FakeSynthesizer, cache: ClipCache) -> None:
    cached = CachedSynthesizer(fake, cache)
    assert list(cached.synthesize(TEXTS, SETTINGS)) == expected(TEXTS)
    assert fake.calls == [tuple(TEXTS)]  # all misses in one batch
    assert len(entries(cache.directory)) == len(TEXTS)
    assert list(cached.synthesize(TEXTS, SETTINGS)) == expected(TEXTS)
    assert fake.calls == [tuple(TEXTS)]  # nothing new for the engine
    assert cached.engine_id == "fake-1"


def test_only_misses_reach_the_engine_and_order_is_kept(
    fake: FakeSynthesizer, cache: ClipCache
) -> None:
    cached = CachedSynthesizer(fake, cache)
    list(cached.synthesize(TEXTS[1::2], SETTINGS))
    mixed = ["New one.", *TEXTS, "New one.", "Another."]
    assert list(cached.synthesize(mixed, SETTINGS)) == expected(mixed)
    assert fake.calls[1] == ("New one.", TEXTS[0], TEXTS[2], "Another.")


def test_every_setting_and_the_engine_are_part_of_the_key(
    fake: FakeSynthesizer, cache: ClipCache
) -> None:
    cached = CachedSynthesizer(fake, cache)
    variants = [
        SETTINGS,
        Settings(rate=200, voice="en-us"),
        Settings(rate=150, voice="gmw/en"),
        Settings(rate=150, voice="en-us", volume=0.5),
    ]
    for settings in variants:
        assert list(cached.synthesize(TEXTS[:1], settings)) == expected(TEXTS[:1], settings)
    assert len(fake.calls) == len(variants)
    keys = {ClipCache.key(TEXTS[0], SETTINGS, engine) for engine in ("a-1", "a-2")}
    assert len(keys) == 2


def test_first_hit_is_yielded_before_misses_are_synthesized(cache: ClipCache) -> None:
    class Slow(FakeSynthesizer):
        started = 0

        def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
            for clip in super().synthesize(texts, settings):
                self.started += 1
                yield clip

    slow = Slow()
    cached = CachedSynthesizer(slow, cache)
    list(cached.synthesize(TEXTS[:1], SETTINGS))
    stream = cached.synthesize(TEXTS, SETTINGS)
    assert next(stream) == expected(TEXTS[:1])[0]
    assert slow.started == 1  # only the warm-up; the misses wait until they are needed
    assert list(stream) == expected(TEXTS[1:])


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-1],  # one byte short
        lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:],  # one bit flipped
        lambda data: b"",  # empty
        lambda data: b"RIFF garbage",
    ],
    ids=["half", "short", "bitflip", "empty", "garbage"],
)
def test_damaged_entry_is_deleted_and_synthesized_again(
    fake: FakeSynthesizer, cache: ClipCache, damage: Callable[[bytes], bytes]
) -> None:
    cached = CachedSynthesizer(fake, cache)
    list(cached.synthesize(TEXTS, SETTINGS))
    path = cache.path(ClipCache.key(TEXTS[2], SETTINGS, fake.engine_id))
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(ClipCache.key(TEXTS[2], SETTINGS, fake.engine_id)) is None
    assert not path.exists()
    assert list(cached.synthesize(TEXTS, SETTINGS)) == expected(TEXTS)
    assert fake.calls[-1] == (TEXTS[2],)
    assert cache.get(ClipCache.key(TEXTS[2], SETTINGS, fake.engine_id)) == expected(TEXTS)[2]


def test_an_entry_found_damaged_among_misses_is_made_first_then_the_rest(
    fake: FakeSynthesizer, cache: ClipCache
) -> None:
    cached = CachedSynthesizer(fake, cache)
    list(cached.synthesize([TEXTS[0], TEXTS[2]], SETTINGS))
    path = cache.path(ClipCache.key(TEXTS[2], SETTINGS, fake.engine_id))
    path.write_bytes(path.read_bytes()[:-1])  # still there: found damaged only when read
    assert list(cached.synthesize(TEXTS, SETTINGS)) == expected(TEXTS)
    assert fake.calls[1:] == [(TEXTS[1], TEXTS[3]), (TEXTS[2], TEXTS[3])]
    assert cache.get(ClipCache.key(TEXTS[2], SETTINGS, fake.engine_id)) == expected(TEXTS)[2]


def test_entries_are_wav_files(fake: FakeSynthesizer, cache: ClipCache) -> None:
    import wave

    list(CachedSynthesizer(fake, cache).synthesize(TEXTS[:1], SETTINGS))
    (path,) = entries(cache.directory)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
        assert w.readframes(w.getnframes()) == expected(TEXTS[:1])[0].pcm


def test_writes_are_atomic_and_leave_no_temporary_files(
    fake: FakeSynthesizer, cache: ClipCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = CachedSynthesizer(fake, cache)
    list(cached.synthesize(TEXTS, SETTINGS))
    assert all(p.suffix == ".wav" and not p.name.startswith(".") for p in entries(cache.directory))

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    warnings: list[str] = []
    failing = ClipCache(cache.directory, on_warning=warnings.append)
    monkeypatch.setattr("voiceguide.cache.clips.os.replace", crash)
    clips = list(CachedSynthesizer(fake, failing).synthesize(["Brand new."], SETTINGS))
    assert clips == expected(["Brand new."])
    assert len(entries(cache.directory)) == len(TEXTS)  # no half-written entry, no temp file
    assert warnings == [
        f"not caching speech: cannot write to {cache.directory}: No space left on device"
    ]


def test_clear_removes_every_entry(fake: FakeSynthesizer, cache: ClipCache) -> None:
    assert cache.clear() == 0  # no directory yet
    list(CachedSynthesizer(fake, cache).synthesize(TEXTS, SETTINGS))
    stale = cache.directory / ".tmp-left-by-a-killed-process.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    (cache.directory / ".tmp-being-written-now.part").write_bytes(b"partial")
    (cache.directory / "notes.txt").write_text("not ours")
    assert cache.clear() == len(TEXTS)
    names = [p.name for p in entries(cache.directory)]
    assert names == [".tmp-being-written-now.part", "notes.txt"]
    list(CachedSynthesizer(fake, cache).synthesize(TEXTS, SETTINGS))
    assert len(fake.calls) == 2


def test_unwritable_cache_warns_once_and_still_speaks(
    fake: FakeSynthesizer, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    warnings: list[str] = []
    cache = ClipCache(blocker / "clips", on_warning=warnings.append)
    cached = CachedSynthesizer(fake, cache)
    for _ in range(3):
        assert list(cached.synthesize(TEXTS, SETTINGS)) == expected(TEXTS)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"not caching speech: cannot write to {blocker / 'clips'}: ")
    assert "\n" not in warnings[0]
    assert cache.clear() == 0


def test_default_directory_is_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ClipCache().directory == tmp_path / "voiceguide" / "clips"


def test_engine_returning_too_few_clips_is_an_error(cache: ClipCache) -> None:
    class Short(FakeSynthesizer):
        def synthesize(self, texts: Sequence[str], settings: Settings) -> Iterator[Clip]:
            return super().synthesize(texts[:-1], settings)

    with pytest.raises(SpeechError, match="fewer clips"):
        list(CachedSynthesizer(Short(), cache).synthesize(TEXTS, SETTINGS))


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    """Both read and rewrite the same entries at once, and both always get the right clips."""
    script = textwrap.dedent(
        """
        import random, sys
        from pathlib import Path
        from voiceguide.cache import CachedSynthesizer, ClipCache
        from voiceguide.config import Settings
        from voiceguide.speech import FakeSynthesizer

        directory, seed = Path(sys.argv[1]), int(sys.argv[2])
        rng = random.Random(seed)
        texts = [f"Cue number {i}, said slowly and clearly." for i in range(12)]
        warnings = []
        cache = ClipCache(directory, on_warning=warnings.append)
        for round in range(60):
            settings = Settings(rate=rng.choice([120, 150, 200]))
            present = sorted(directory.glob("[0-9a-f]*.wav"))
            for path in rng.sample(present, k=min(3, len(present))):
                path.unlink(missing_ok=True)  # the other process may be reading it right now
            order = rng.sample(texts, k=len(texts))
            clips = list(CachedSynthesizer(FakeSynthesizer(), cache).synthesize(order, settings))
            if clips != [FakeSynthesizer.clip(t, settings) for t in order]:
                sys.exit(f"wrong clip in round {round}")
        if warnings:
            sys.exit(f"warnings: {warnings}")
        """
    )
    directory = tmp_path / "shared"
    src = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(directory), str(seed)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]
    assert 0 < ClipCache(directory).clear() <= 36


def test_importing_the_cache_does_not_import_the_engine() -> None:
    """`show` reads clips from the cache; the engine's module is imported only to synthesize."""
    code = "import sys, voiceguide.cache; print('voiceguide.speech' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_entries_written_with_the_wave_module_are_still_read(cache: ClipCache) -> None:
    """Entries are packed by hand now; those the `wave` module wrote read the same."""
    import hashlib
    import io
    import wave

    clip = expected(TEXTS[:1])[0]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(clip.sample_rate)
        w.writeframes(clip.pcm)
    body = bytearray(buffer.getvalue())
    body[4:8] = (int.from_bytes(body[4:8], "little") + 40).to_bytes(4, "little")
    entry = bytes(body) + b"vgck" + (32).to_bytes(4, "little") + hashlib.sha256(body).digest()
    key = ClipCache.key(TEXTS[0], SETTINGS, "fake-1")
    cache.directory.mkdir(parents=True)
    cache.path(key).write_bytes(entry)
    assert cache.get(key) == clip
    cache.put(key, clip)
    assert cache.path(key).read_bytes() == entry  # and they are written the same


def dead_pid() -> int:
    """The process id of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_past_its_limit_the_least_recently_used_entries_go(
    fake: FakeSynthesizer, tmp_path: Path
) -> None:
    texts = [f"Cue {letter}." for letter in "ABCDEF"]  # one length: one entry size
    roomy = ClipCache(tmp_path / "clips", on_warning=pytest.fail, limit_mb=100)
    list(CachedSynthesizer(fake, roomy).synthesize(texts[:5], SETTINGS))
    paths = [roomy.path(ClipCache.key(t, SETTINGS, fake.engine_id)) for t in texts]
    size = paths[0].stat().st_size
    for age, path in enumerate(reversed(paths[:5]), 1):  # A the oldest, E the newest
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    tight = ClipCache(tmp_path / "clips", on_warning=pytest.fail, limit_mb=5.5 * size / 1e6)
    assert tight.get(ClipCache.key(texts[0], SETTINGS, fake.engine_id))  # A is used again
    list(CachedSynthesizer(fake, tight).synthesize(texts[5:], SETTINGS))  # F: over the limit
    assert [p.exists() for p in paths] == [True, False, False, True, True, True]
    assert tight.info().bytes == 4 * size <= 0.9 * tight.limit_bytes


def test_temporary_files_of_ended_processes_are_removed_on_the_next_use(
    fake: FakeSynthesizer, cache: ClipCache
) -> None:
    cache.directory.mkdir(parents=True)
    gone, alive = dead_pid(), os.getpid()
    left = cache.directory / f".tmp-{gone}-0123abcd.part"
    writing = cache.directory / f".tmp-{alive}-0123abcd.part"
    run_left = cache.directory / f".run-{gone}-0123abcd"
    run_live = cache.directory / f".run-{alive}-0123abcd"
    for path in (left, writing):
        path.write_bytes(b"partial")
    for folder in (run_left, run_live):
        folder.mkdir()
        (folder / "0.wav").write_bytes(b"a clip")
    list(CachedSynthesizer(fake, cache).synthesize(TEXTS[:1], SETTINGS))
    assert not left.exists() and not run_left.exists()
    assert writing.exists() and run_live.exists(), "a live process's files stay"


def test_a_temporary_name_is_short_and_names_its_process() -> None:
    from voiceguide.cache import temp_name

    name = temp_name(".tmp-", ".part")
    assert name.startswith(f".tmp-{os.getpid()}-") and len(name) <= 30


def config_file(text: str) -> None:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_cache_info_shows_location_size_limit_and_entries(
    run: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    directory = tmp_path / "voiceguide" / "clips"
    empty = run("cache", "info")
    assert empty.status == 0
    assert empty.out.splitlines() == [
        f"location: {directory}",
        "size: 0.0 MB in 0 clip(s)",
        "limit: 1024 MB (config key cache_limit_mb)",
        "listening model: none (joined here the first time you listen: 145 MB)",
    ]
    config_file("cache_limit_mb = 50\n")
    list(CachedSynthesizer(FakeSynthesizer(), ClipCache()).synthesize(TEXTS, SETTINGS))
    size = sum(p.stat().st_size for p in directory.iterdir())
    info = run("cache", "info")
    assert info.out.splitlines()[1:] == [
        f"size: {size / 1e6:.1f} MB in {len(TEXTS)} clip(s)",
        "limit: 50 MB (config key cache_limit_mb)",
        "listening model: none (joined here the first time you listen: 145 MB)",
    ]
    assert info.err == ""


def test_the_listening_models_copy_is_shown_and_cleared_with_the_cache(
    run: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whisper's model, joined into the cache by the first session that listens, is 145 MB
    the clips' limit does not count: `cache info` shows it and `cache clear` removes it (the
    next session that listens joins it again: test_listen_transcriber)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "voiceguide" / "whisper-base"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(bytes(2_000_000))
    (folder / "config.json").write_text("{}")
    info = run("cache", "info")
    assert info.out.splitlines()[-1] == (
        f"listening model: 2.0 MB in {folder} (not counted in the limit)"
    )
    cleared = run("cache", "clear")
    assert cleared.status == 0 and cleared.err == ""
    assert cleared.out.splitlines() == [
        f"removed 0 clip(s) from {tmp_path / 'voiceguide' / 'clips'}",
        f"removed the listening model's copy (2.0 MB) from {folder}",
    ]
    assert not folder.exists()
    assert run("cache", "info").out.splitlines()[-1].startswith("listening model: none")


@pytest.mark.parametrize("value", ['"lots"', "0", "-5", "true", "inf"])
def test_a_bad_cache_limit_names_the_file_and_key(
    run: Callable[..., Result], value: str, routine_file: Callable[[str], Path], tmp_path: Path
) -> None:
    config_file(f"cache_limit_mb = {value}\n")
    for args in (("cache", "info"), ("export", "desk-break", "-o", str(tmp_path / "x.wav"))):
        result = run(*args)
        assert result.status == 2
        (line,) = result.err.splitlines()
        assert (
            line.startswith("error: ") and "config.toml: cache_limit_mb: must be megabytes" in line
        )
    assert not (tmp_path / "x.wav").exists()


def test_what_a_killed_export_left_in_the_cache_goes_with_the_next_one(
    run: Callable[..., Result], routine_file: Callable[[str], Path], tmp_path: Path
) -> None:
    """SIGKILL during synthesis leaves the run's clip folder (and maybe a temporary entry);
    the next export, even one with nothing to synthesize, removes them."""
    steps = ", ".join(
        f'{{ say = "Long cue number {n}, said slowly and with care." }}' for n in range(60)
    )
    routine = routine_file(f'title = "Killed"\n[[technique]]\ntitle = "Many"\nsteps = [{steps}]\n')
    cache = tmp_path / "cache"
    directory = cache / "voiceguide" / "clips"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    src = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "export", str(routine), "-o", str(tmp_path / "a.wav")],
        cwd=src,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(6000):  # until the run's folder is there (at most a minute)
            if list(directory.glob(".run-*")) or proc.poll() is not None:
                break
            time.sleep(0.01)
        proc.kill()
    finally:
        proc.wait()
    assert list(directory.glob(".run-*")), "killed while it was synthesizing"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        assert run("export", str(routine), "-o", str(tmp_path / "b.wav")).status == 0
        assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []
        gone = dead_pid()  # and a warm export, with nothing to synthesize, also looks
        (directory / f".tmp-{gone}-0123abcd.part").write_bytes(b"partial")
        (directory / f".run-{gone}-0123abcd").mkdir()
        assert run("export", str(routine), "-o", str(tmp_path / "c.wav")).status == 0
        assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []
