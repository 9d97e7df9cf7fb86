"""Whisper's second opinion: what it writes down, how its words and pocketsphinx's answer
make one, and a model that is missing or damaged (pocketsphinx goes on alone)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from voiceguide.listen import transcriber
from voiceguide.listen.commands import command_of
from voiceguide.listen.recognizer import LIKELY, Recognizer, agree
from voiceguide.listen.transcriber import Transcriber, TranscriberError

from . import listen_audio as audio


@pytest.mark.parametrize(
    ("heard", "said", "answer"),
    [
        (None, "Next.", "next"),  # pocketsphinx missed it
        (None, "OK, 10 more seconds!", "more"),  # Whisper's way of writing the words
        ("pause", "Wait.", "pause"),
        ("back", "Next, please.", "next"),  # two commands: Whisper's, written exactly
        ("stop", "Step away from the wall.", None),  # a sentence without "stop": talk
        ("more", "Ten seconds left.", None),  # "ten" and "seconds" are talk's words too
        ("hurts", "And that hurts.", "hurts"),  # a sentence with the command's own word
        ("more", "and more sand candy", "more"),
        ("continue", "Um", "continue"),  # Whisper unsure: pocketsphinx decides
        ("next", "", "next"),
        (None, "Step away", None),
        (None, "Stop stop", None),
    ],
)
def test_two_answers_make_one(heard: str | None, said: str, answer: str | None) -> None:
    assert agree(heard, said) == answer  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def whisper() -> Transcriber:
    return Transcriber()


@pytest.mark.speech
def test_whisper_writes_down_what_was_said(whisper: Transcriber) -> None:
    voice = audio.ESPEAK_VOICES[0]
    texts = ("ten more seconds please", "next", "Step away from the wall.")
    quiet = np.zeros(4000, np.int16)  # a quarter second each side, as the segmenter cuts
    clips = [np.concatenate([quiet, c, quiet]) for c in audio.speak(texts, voice)]
    written = [whisper.text(c) for c in clips]
    assert command_of(written[0]) == "more", written
    assert command_of(written[1]) == "next", written
    assert command_of(written[2]) is None and "wall" in written[2].lower(), written
    # the same utterance, the same words, whatever came before
    assert [whisper.text(c) for c in reversed(clips)][::-1] == written
    assert whisper.text(np.zeros(0, np.int16)) == whisper.text(np.zeros(0, np.int16))


def test_a_damaged_model_in_the_cache_is_joined_again(tmp_path: Path) -> None:
    folder = transcriber.model_directory(tmp_path)
    model = folder / "model.bin"
    size = model.stat().st_size
    with model.open("r+b") as f:  # one byte changed: the same size, other weights
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    Transcriber(cache=tmp_path)
    assert transcriber._sha256(model) == transcriber.MODEL_SHA256
    model.write_bytes(b"")  # cut short
    assert transcriber.model_directory(tmp_path) == folder
    assert model.stat().st_size == size
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_damaged_parts_are_refused_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcriber, "MODEL_SHA256", "0" * 64)
    with pytest.raises(TranscriberError, match="damaged"):
        transcriber.model_directory(tmp_path)
    assert not (tmp_path / "whisper-base" / "model.bin").exists()


@pytest.mark.parametrize("fault", ["missing", "damaged"])
def test_without_whisper_pocketsphinx_goes_on_alone(
    fault: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if fault == "missing":
        monkeypatch.setattr(transcriber, "PARTS", ("no_such_model_part", *transcriber.PARTS[1:]))
    else:
        monkeypatch.setattr(transcriber, "MODEL_SHA256", "0" * 64)
    with caplog.at_level(logging.WARNING, logger="voiceguide.listen"):
        recognizer = Recognizer()
    assert recognizer.transcriber is None
    [record] = caplog.records
    assert record.getMessage().startswith("listening with pocketsphinx alone: ")
    assert ("no_such_model_part" if fault == "missing" else "damaged") in record.getMessage()
    (clip,) = audio.speak(["pause"], audio.ESPEAK_VOICES[0])
    assert recognizer.recognize(np.concatenate([np.zeros(4000, np.int16), clip])) == "pause"


def test_a_cache_that_cannot_hold_the_model_is_a_clear_error(tmp_path: Path) -> None:
    """The cache folder is a file (or full, or not writable): one line saying where, and the
    recognizer goes on without Whisper (above)."""
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    with pytest.raises(TranscriberError, match=f"cannot be made ready in {cache}"):
        transcriber.model_directory(cache)
    assert cache.read_text() == "not a folder"


@pytest.mark.speech
def test_whisper_finds_a_misheard_command_likely_and_talk_not(whisper: Transcriber) -> None:
    """In pink noise 10 dB under the words, en-us+f3's "go back" is written "Go man!", its
    "next" "Nick": forced through Whisper, their phrases are likely; a short word of talk
    makes no command likely (measured: talk at most 0.045, recognizer.LIKELY 0.1)."""
    voice = audio.ESPEAK_VOICES[1]
    quiet = np.zeros(4000, np.int16)
    clips = audio.speak(["go back", "next", "Go ahead.", "Two."], voice)
    noisy = [
        np.concatenate([quiet, audio.with_noise(c, 10.0, seed=i), quiet])
        for i, c in enumerate(clips[:2])
    ]
    for utterance, command in zip(noisy, ("back", "next"), strict=True):
        likeliest, likelihood = whisper.likeliest(utterance)
        assert likeliest == command and likelihood >= LIKELY, (whisper.text(utterance), likelihood)
    for clip in clips[2:]:
        assert whisper.likeliest(np.concatenate([quiet, clip, quiet]))[1] < LIKELY
