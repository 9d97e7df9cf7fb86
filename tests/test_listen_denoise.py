"""Noise removal for a loud room: the room's steady noise gated out of an utterance, the voice
kept; a pure function of its two inputs."""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide.listen.denoise import N_FFT, denoise
from voiceguide.listen.segmenter import RATE, dbfs

from . import listen_audio as audio

pytestmark = pytest.mark.speech

VOICE = audio.ESPEAK_VOICES[0]
EDGE = RATE // 5
"""The fan alone either side of the words in the utterance: 200 ms."""


def fan_and_words(text: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the words said with a fan 10 dB below them and 200 ms of the fan alone either side,
    the second of fan before that, the words alone)."""
    said = audio.espeak(text, VOICE)
    x, end = audio.with_fan(said, 10.0, seed=seed)
    start = end - len(said)
    return x[start - EDGE : end + EDGE], x[start - EDGE - RATE : start - EDGE], said


@pytest.mark.parametrize("text", ["ten more seconds", "pause", "it hurts"])
def test_the_fan_is_taken_out_and_the_words_kept(text: str) -> None:
    utterance, room, said = fan_and_words(text, seed=len(text))
    out = denoise(utterance, room)
    assert out.dtype == np.int16 and len(out) == len(utterance)
    for edge in (slice(0, EDGE - N_FFT // 2), slice(-(EDGE - N_FFT // 2), None)):
        assert dbfs(out[edge]) < dbfs(utterance[edge]) - 15, "the fan alone: 15 dB down or more"
    words = out[EDGE : EDGE + len(said)]
    assert abs(dbfs(words) - dbfs(said)) < 4.0, "the words kept, near their own level"
    assert np.array_equal(denoise(utterance, room), out), "the same in, the same out"


def test_a_quiet_room_takes_nothing_from_the_words() -> None:
    said = audio.espeak("next", VOICE)
    x, _ = audio.scene([said], gap_s=1.0)
    out = denoise(x[RATE:], x[:RATE])
    assert abs(dbfs(out) - dbfs(x[RATE:])) < 0.5


def test_too_short_to_measure_is_left_as_it_is() -> None:
    short = np.arange(N_FFT - 1, dtype=np.int16)
    room = np.ones(RATE, dtype=np.int16)
    assert denoise(short, room) is short
    assert denoise(room, short) is room
