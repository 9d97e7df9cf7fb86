"""Every text `check` accepts is said by every engine, as long as its words demand, and what
`check` refuses `export` refuses with the same line: long words, emoji, other scripts. Plus
the system engine's scratch folder, which goes with its workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from voiceguide import api
from voiceguide.compiler import cue_texts
from voiceguide.config import Settings
from voiceguide.errors import RoutineError, SpeechError
from voiceguide.speech import Engine, natural, unavailable
from voiceguide.speech.rates import estimate_ms
from voiceguide.speech.scripts import route

pytestmark = pytest.mark.speech

INSTALLED = tuple(e for e in ("natural", "espeak", "system") if unavailable(e) is None)

URL = "https://example.com/a/very/long/path/to/some/resource/that/goes/on/and/on/index.html"
COMPOUND = "Donaudampfschifffahrtselektrizitaetenhauptbetriebswerkbauunterbeamtengesellschaft"
APOSTROPHES = "l'" * 40 + "l"


def routine(folder: Path, *cues: str, name: str = "cues.toml") -> Path:
    steps = ", ".join(f"{{ say = {json.dumps(cue, ensure_ascii=False)} }}" for cue in cues)
    path = folder / name
    path.write_text(
        f'title = "Words"\n[[technique]]\ntitle = "Cues"\nsteps = [{steps}]\n', encoding="utf-8"
    )
    return path


def spoken_ms(run, path: Path, engine: str, text: str) -> int:  # type: ignore[no-untyped-def]
    """The length of `text`'s clip in the timeline laid out on the real clips."""
    result = run("show", str(path), "--json", "--engine", engine)
    assert result.status == 0, result.err
    events = json.loads(result.out)["events"]
    (event,) = [e for e in events if e["kind"] == "speech" and e["text"] == text]
    return round(float(event["duration"]) * 1000)


@pytest.mark.parametrize("word", [URL, COMPOUND, APOSTROPHES, "x" * 300])
def test_a_word_longer_than_a_piece_is_said_whole_by_the_natural_voice(
    run, tmp_path: Path, word: str
) -> None:
    """It used to make hibari's pieces loop for ever (a worker at full CPU until the timeout):
    now the export completes, and the clip grows with the word as the length model says."""
    text = f"Open {word} now."
    path = routine(tmp_path, text, "Breathe in.")
    assert run("check", str(path)).status == 0
    out = tmp_path / "long.wav"
    started = time.monotonic()
    result = run("export", str(path), "-o", str(out), "--engine", "natural")
    assert result.status == 0, result.err
    assert time.monotonic() - started < 25  # well inside one cue's timeout
    got = spoken_ms(run, path, "natural", text)
    expected = estimate_ms("natural", natural._text(text), 150)
    assert 0.6 * expected <= got <= 1.8 * expected, (got, expected)
    assert got > 200 * len(natural._text(word).split())  # every cut part of it is said


def test_long_words_are_cut_where_they_have_punctuation_then_evenly() -> None:
    assert natural._text(f"Go to {URL}.").split()[3:7] == ["example", "com", "a", "very"]
    parts = natural._text("y" * 100).split()
    assert [len(p) for p in parts] == [20] * 5 and all(len(p) <= natural.MAX_WORD for p in parts)
    assert natural._text("Fine words, kept as they are.") == "Fine words, kept as they are."


@pytest.mark.parametrize("engine", INSTALLED)
@pytest.mark.parametrize("cue", ["😀😀🙂", "☃", "→ §"])
def test_a_cue_of_symbols_only_is_said_by_name_by_every_engine(
    run, tmp_path: Path, engine: str, cue: str
) -> None:
    path = routine(tmp_path, cue)
    out = tmp_path / "emoji.wav"
    result = run("export", str(path), "-o", str(out), "--engine", engine)
    assert result.status == 0, result.err
    got = spoken_ms(run, path, engine, cue)
    assert got >= 500, got  # "grinning face, ...": words, not a blip


@pytest.mark.parametrize("engine", INSTALLED)
def test_text_no_voice_reads_is_refused_by_check_and_export_alike(
    run, tmp_path: Path, engine: str
) -> None:
    """Japanese: kanji and kana in one cue, which no voice here reads both of."""
    path = routine(tmp_path, "肩の力を抜いて、ゆっくり息を吐いてください。", "Breathe in.")
    out = tmp_path / "ja.wav"
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'engine = "{engine}"\n', encoding="utf-8")
    checked = run("check", str(path))
    exported = run("export", str(path), "-o", str(out))
    assert checked.status == exported.status == 2
    line = checked.err.strip()
    assert "\n" not in line and "cannot say it: no voice here reads Han" in line, line
    assert exported.err.strip() == line
    assert not out.exists()


@pytest.mark.parametrize("engine", INSTALLED)
def test_another_script_is_said_by_the_espeak_voice_that_reads_it(
    run, tmp_path: Path, engine: str
) -> None:
    if unavailable("espeak") is not None:
        pytest.skip("espeak-ng is not installed")
    text = "Расслабьте плечи и медленно выдохните."
    path = routine(tmp_path, text, "Breathe in.")
    checked = run("check", str(path), "--rate", "150")
    out = tmp_path / "ru.wav"
    exported = run("export", str(path), "-o", str(out), "--engine", engine)
    assert checked.status == exported.status == 0, exported.err
    warning = "the espeak-ng voice 'ru' (Cyrillic letters) says 1 cue(s)"
    assert warning in exported.err and exported.err.count("warning:") == 1
    got = spoken_ms(run, path, engine, text)
    assert 0.5 * estimate_ms("espeak", text, 150) <= got <= 2 * estimate_ms("espeak", text, 150)


def test_scripts_a_voice_reads_and_the_voice_that_reads_the_rest() -> None:
    assert route("natural", "en-us", "Breathe in, café, naïve, Ærø.") is None
    fullwidth_and_bold = "\uff22\uff52\uff45\uff41\uff54\uff48\uff45 \U0001d422\U0001d427"
    assert route("natural", "en-us", fullwidth_and_bold) is None
    assert route("espeak", "ru", "Дышите") is None
    cyrillic = route("espeak", "en-us", "Дышите")
    assert cyrillic is not None and (cyrillic.engine, cyrillic.voice) == ("espeak", "ru")
    katakana = route("natural", "en-us", "リラックス")
    assert katakana is not None and katakana.voice == "ja"
    with pytest.raises(SpeechError, match="only espeak-ng reads Greek letters"):
        route("natural", "en-us", "Αναπνεύστε", espeak=False)
    with pytest.raises(SpeechError, match="no voice here reads Cherokee letters"):
        route("natural", "en-us", "ᏣᎳᎩ")


# --- check agrees with export, for any text -------------------------------------------------

WORDS = st.sampled_from(
    [
        "Breathe in.",
        "slowly,",
        URL,
        COMPOUND,
        APOSTROPHES,
        "😀",
        "🧘‍♀️",
        "→",
        "肩の力を抜いて",
        "リラックス",
        "Дышите",
        "Αναπνεύστε",
        "안녕하세요",
        "مرحبا",
        "ᏣᎳᎩ",
        "\uff26\uff55\uff4c\uff4c",  # fullwidth
        "%",
    ]
)
LETTERS = st.text(
    st.characters(categories=["L", "N", "P", "S", "Zs"], max_codepoint=0x2FFFF),
    min_size=1,
    max_size=30,
)
TEXTS = st.lists(st.one_of(WORDS, LETTERS), min_size=1, max_size=4).map(" ".join)

_FOLDER = tempfile.TemporaryDirectory(prefix="voiceguide-test-text-")


@pytest.mark.parametrize("engine", INSTALLED)
@settings(max_examples=20, deadline=None, derandomize=True)
@given(text=TEXTS)
@example(text="\u00b4")  # NFKC makes the acute accent a lone combining mark: said, not named
@example(text="\u0134")  # a lone accented letter is said with its accent's name: "J circumflex"
def test_check_and_synthesis_agree_on_any_text(
    engines: Callable[[str], Engine], engine: str, text: str
) -> None:
    """What `check` accepts, the engine (as `export` opens it) says, at a plausible length;
    what it refuses, the engine refuses too."""
    path = routine(Path(_FOLDER.name), text)
    try:
        compiled = api.compile(str(path), api.Options(engine=engine), estimate_only=True)
    except RoutineError:
        checked = False
    else:
        checked = True
    try:
        loaded = api.load(str(path))
    except RoutineError:
        assert not checked
        return
    texts = list(cue_texts(loaded))
    try:
        clips = list(engines(engine).synthesize(texts, Settings(engine=engine)))
    except SpeechError as exc:
        assert not checked, f"check passed, synthesis failed: {exc}"
        return
    assert checked, "check refused what the engine says"
    assert compiled.duration > 0 and all(clip.duration_ms > 0 for clip in clips)


# --- the system engine's scratch folder -----------------------------------------------------


def ours(folder: Path) -> list[Path]:
    """voiceguide's files in a temporary folder (PulseAudio's client keeps its own there)."""
    return sorted(folder.glob("voiceguide-*"))


def _system_env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return dict(os.environ, TMPDIR=str(scratch), XDG_CACHE_HOME=str(tmp_path / "cache"))


@pytest.mark.skipif("system" not in INSTALLED, reason="pyttsx3 is not installed")
def test_the_system_engine_leaves_no_folder_after_export_voices_or_ctrl_c(
    tmp_path: Path,
) -> None:
    env = _system_env(tmp_path)
    scratch = Path(env["TMPDIR"])
    command = [sys.executable, "-m", "voiceguide"]
    path = routine(tmp_path, *(f"Cue number {n}, said slowly." for n in range(40)))
    done = subprocess.run(
        [*command, "export", str(path), "-o", str(tmp_path / "a.wav"), "--engine", "system"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    voices = subprocess.run([*command, "voices"], env=env, capture_output=True, text=True)
    assert voices.returncode == 0, voices.stderr
    assert ours(scratch) == []
    proc = subprocess.Popen(
        [*command, "export", str(path), "-o", str(tmp_path / "b.wav"), "--engine", "system"],
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "cold")},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not ours(scratch) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ours(scratch), "the pool made its folder"
    time.sleep(0.5)  # cues being said into it
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert ours(scratch) == []
    assert not (tmp_path / "b.wav").exists()
