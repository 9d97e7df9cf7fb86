"""The segmenter: 10 ms frames in, short utterances out; talk, blips and steady noise dropped."""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide.listen.segmenter import (
    FRAME,
    HANGOVER_MS,
    MAX_SPEECH_MS,
    PREROLL_MS,
    RATE,
    ROOM_MS,
    Segmenter,
    dbfs,
)

from . import listen_audio as audio

pytestmark = pytest.mark.speech

VOICE = audio.ESPEAK_VOICES[0]


def utterances(x: np.ndarray, segmenter: Segmenter | None = None) -> list[tuple[int, np.ndarray]]:
    """(sample after the frame that completed it, utterance) for each utterance in `x`."""
    segmenter = segmenter or Segmenter()
    found = []
    for i, frame in enumerate(audio.frames(x)):
        done = segmenter.feed(frame)
        if done is not None:
            found.append(((i + 1) * FRAME, done))
    return found


def test_a_command_in_a_quiet_room_is_one_utterance_ending_a_hangover_after_it() -> None:
    said = audio.espeak("pause", VOICE)
    x, ends = audio.scene([said], gap_s=1.5)
    [(at, utterance)] = utterances(x)
    assert 0 < at - ends[0] <= (HANGOVER_MS + 30) * RATE // 1000
    speech = len(said)
    assert speech <= len(utterance) <= speech + (PREROLL_MS + HANGOVER_MS + 20) * RATE // 1000
    # the utterance holds the speech itself, not the quiet around it
    start = ends[0] - speech
    held = x[start : ends[0]]
    assert np.correlate(utterance.astype(float), held.astype(float)).max() > 0.99 * np.dot(
        held.astype(float), held.astype(float)
    )


@pytest.mark.parametrize("kind", ["pink", "brown"])
def test_commands_over_a_loud_bed_are_each_found_once(kind: str) -> None:
    said = [audio.espeak(text, VOICE) for text in ("stop", "ten more seconds", "it hurts")]
    quiet, _ = audio.scene(said, gap_s=2.0, noise_db=-200)
    x, ends = audio.scene(said, gap_s=2.0, noise_db=-40, kind=kind, seed=3)
    # speech 10-20 dB above the bed
    assert 10 < 20 * np.log10(audio.speech_rms(quiet) / (32768 * 10 ** (-40 / 20))) < 30
    found = utterances(x)
    assert len(found) == 3
    for (at, _), end in zip(found, ends, strict=True):
        assert end < at <= end + (HANGOVER_MS + 100) * RATE // 1000


def test_commands_in_a_fan_10_db_below_them_are_each_one_utterance() -> None:
    phrases = [phrase for phrase, _ in audio.command_phrases()]
    said_by = [(phrase, voice) for voice in audio.ESPEAK_VOICES for phrase in phrases]
    whole = 0
    for i, (phrase, voice) in enumerate(said_by):
        x, _ = audio.with_fan(audio.espeak(phrase, voice), 10.0, seed=i % len(phrases))
        whole += len(utterances(x)) == 1
    # the soft frames of a short word sink into a fan's: at most one phrase in twenty lost
    # (with 9 dB above the floor as speech, 73 of 84 were one utterance; with 6 dB, 82)
    assert whole >= 0.95 * len(said_by)


def test_steady_noise_alone_and_a_fan_switched_on_give_nothing() -> None:
    n = 20 * RATE
    bed = audio.brown(n, 1) * 32768 * 10 ** (-30 / 20)
    fan = audio.pink(n, 2) * 32768 * 10 ** (-35 / 20)
    fan[: n // 2] = 0  # the fan starts half way
    x = np.clip(np.round(bed + fan + audio.pink(n, 3) * 30), -32768, 32767).astype(np.int16)
    assert utterances(x) == []


def test_talk_longer_than_a_command_is_dropped_whole() -> None:
    said = audio.espeak("Breathe out, and slowly turn your chest to the left.", VOICE)
    assert len(said) > MAX_SPEECH_MS * RATE // 1000
    x, _ = audio.scene([said], gap_s=1.5)
    assert utterances(x) == []


def test_speech_right_after_other_speech_is_talk_not_a_command() -> None:
    first = audio.espeak("Round two of three.", VOICE)
    second = audio.espeak("next", VOICE)
    x, ends = audio.scene([first, second], gap_s=[1.5, 0.5])
    assert [at < ends[1] for at, _ in utterances(x)] == [True]
    apart, _ = audio.scene([first, second], gap_s=[1.5, 1.0])
    assert len(utterances(apart)) == 2


def test_a_blip_shorter_than_a_word_is_dropped() -> None:
    x = (audio.pink(3 * RATE, 4) * 30).astype(np.int16)
    x[RATE : RATE + RATE // 20] = (audio.pink(RATE // 20, 5) * 8000).astype(np.int16)
    assert utterances(x) == []


def test_reset_drops_the_utterance_in_progress() -> None:
    x, ends = audio.scene([audio.espeak("continue", VOICE)], gap_s=1.5)
    segmenter = Segmenter()
    middle = (ends[0] - len(audio.espeak("continue", VOICE)) // 2) // FRAME
    frames = audio.frames(x)
    for frame in frames[:middle]:
        assert segmenter.feed(frame) is None
    segmenter.reset()
    assert all(segmenter.feed(frame) is None for frame in frames[middle:])
    assert len(utterances(x)) == 1


def test_same_frames_same_utterances() -> None:
    x, _ = audio.scene(
        [audio.espeak(t, VOICE) for t in ("wait", "go on", "previous")], gap_s=1.2, noise_db=-45
    )
    one, two = utterances(x), utterances(x)
    assert len(one) == 3
    assert [a for a, _ in one] == [a for a, _ in two]
    assert all(np.array_equal(u, v) for (_, u), (_, v) in zip(one, two, strict=True))


def test_a_frame_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="160 mono samples"):
        Segmenter().feed(np.zeros(320, dtype=np.int16))


def test_the_room_is_the_quiet_before_the_utterance() -> None:
    """room(): the last second heard while no one spoke, for noise removal to take as the
    noise: the fan, not the voice; nothing before there is enough of it."""
    said = audio.espeak("ten more seconds", VOICE)
    x, _ = audio.with_fan(said, 10.0, seed=1)
    segmenter = Segmenter()
    assert segmenter.room() is None
    assert audio.with_rooms(x[: 20 * FRAME], segmenter) == []
    assert segmenter.room() is None, "200 ms is not enough to know a room by"
    [(utterance, room)] = audio.with_rooms(x[20 * FRAME :], segmenter)
    assert room is not None and len(room) == ROOM_MS * RATE // 1000
    preroll = PREROLL_MS * RATE // 1000
    assert np.array_equal(room[-preroll:], utterance[:preroll]), "right up to the speech"
    assert dbfs(room) < dbfs(said) - 6
