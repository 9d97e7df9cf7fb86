"""Microphone frames -> short utterances: an energy detector over an adaptive noise floor.

Commands are short. A stretch of speech is an utterance when it lasts MIN_SPEECH_MS to
MAX_SPEECH_MS and is followed by HANGOVER_MS of quiet; longer talk is dropped whole (that
alone keeps most conversation away from the recognizer), shorter blips (a knock, a cough's
click) too. Energy is measured after pre-emphasis, so the low rumble of a brown-noise bed or
a fan counts little, and against the quietest level of the last FLOOR_MS (minimum
statistics), so any steady noise becomes the floor within seconds. Pure and deterministic:
the same frames in give the same utterances out. Why energy, and the figures:
docs/listening.md.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

RATE = 16000
FRAME = 160
"""Samples per frame: 10 ms of mono int16 at RATE."""
FRAME_MS = 1000 * FRAME // RATE

THRESHOLD_DB = 6.0
"""A frame is speech when its energy is this far above the noise floor (9 dB lost one short
command in nine to a fan 10 dB below the voice: its soft frames fell under it)..."""
ABSOLUTE_DB = 30.0
"""...and above this level (dB re one 16-bit step squared: RMS 32 steps, -60 dBFS
after pre-emphasis), so a silent room's faint hiss never counts."""
FLOOR_MS = 3000
MIN_SPEECH_MS = 200
MAX_SPEECH_MS = 1800
HANGOVER_MS = 300
"""Quiet that ends an utterance: the pause between words of a command is shorter."""
QUIET_BEFORE_MS = 800
"""Quiet that must come before an utterance: a command is said on its own, while the
fragments of talk between its commas follow other speech closely."""
PREROLL_MS = 200
"""Kept before the first speech frame: soft onsets ("hurts", "pause") start below threshold."""
ROOM_MS = 1000
"""The quiet kept as the room's sound (`room`): the last second of frames heard while no one
spoke, ..."""
ROOM_MIN_MS = 300
"""... at least this much of it."""

_EMPHASIS = 0.97

Int16Array = npt.NDArray[np.int16]


class Segmenter:
    """Feed 10 ms frames in order; an utterance comes back when its trailing quiet ends."""

    def __init__(self) -> None:
        self._floor: deque[tuple[int, float]] = deque()
        """(frame number, energy) with rising energies: the minimum over FLOOR_MS first."""
        self._count = 0
        self._last = 0.0
        self._since = QUIET_BEFORE_MS // FRAME_MS
        """Frames since the last speech frame (at most QUIET_BEFORE_MS worth)."""
        self._room: deque[Int16Array] = deque(maxlen=ROOM_MS // FRAME_MS)
        self._clear()

    def room(self) -> Int16Array | None:
        """The room's own sound, the last second of quiet before the utterance just given
        (None under ROOM_MIN_MS of it): what noise removal takes as the noise."""
        if len(self._room) * FRAME_MS < ROOM_MIN_MS:
            return None
        return np.concatenate(self._room)

    def reset(self) -> None:
        """Drop the utterance in progress and the pre-roll (the guide is about to sound).

        The noise floor and the room's sound are the room's and stay. Speech cut off by a
        reset counts as speech just heard: what follows it right away is its end, not a
        command."""
        if self._speech or self._talk:
            self._since = 0
        self._clear()

    def _clear(self) -> None:
        self._before: deque[Int16Array] = deque(maxlen=PREROLL_MS // FRAME_MS)
        self._frames: list[Int16Array] = []
        self._speech = 0
        """Frames from the first speech frame to the last one, inclusive."""
        self._quiet = 0
        self._talk = False
        """Speech too long, or too soon after other speech: dropped until quiet returns."""

    def feed(self, frame: npt.NDArray[np.int16]) -> Int16Array | None:
        """Take one frame (FRAME int16 samples); return a finished utterance or None."""
        if frame.shape != (FRAME,):
            raise ValueError(f"a frame is {FRAME} mono samples, got shape {frame.shape}")
        energy = self._energy(frame)
        floor = self._track(energy)
        speech = energy >= max(floor + THRESHOLD_DB, ABSOLUTE_DB)
        if self._speech == 0 and not self._talk:
            if speech:
                self._frames = [*self._before, frame]
                self._speech, self._quiet = 1, 0
                self._talk = self._since * FRAME_MS < QUIET_BEFORE_MS
            else:
                self._before.append(frame)
                self._room.append(frame)
                self._since = min(self._since + 1, QUIET_BEFORE_MS // FRAME_MS)
            return None
        if speech:
            self._speech += self._quiet + 1
            self._quiet = 0
        else:
            self._quiet += 1
        if not self._talk:
            self._frames.append(frame)
            if self._speech * FRAME_MS > MAX_SPEECH_MS:
                self._talk, self._frames = True, []
        if self._quiet * FRAME_MS < HANGOVER_MS:
            return None
        done = None
        if not self._talk and self._speech * FRAME_MS >= MIN_SPEECH_MS:
            done = np.concatenate(self._frames)
        self._since = self._quiet
        self._clear()
        return done

    def _energy(self, frame: Int16Array) -> float:
        """dB (re one step squared) of the pre-emphasized frame."""
        x = frame.astype(np.float64)
        previous = np.concatenate(([self._last], x[:-1]))
        self._last = float(x[-1])
        y = x - _EMPHASIS * previous
        return float(10 * np.log10(np.dot(y, y) / FRAME + 1.0))

    def _track(self, energy: float) -> float:
        """The lowest energy of the last FLOOR_MS, this frame's included."""
        self._count += 1
        window = self._floor
        while window and window[-1][1] >= energy:
            window.pop()
        window.append((self._count, energy))
        while window[0][0] <= self._count - FLOOR_MS // FRAME_MS:
            window.popleft()
        return window[0][1]


def dbfs(samples: Int16Array) -> float:
    """RMS level of int16 `samples` in dB below full scale (digital silence: -90)."""
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
    return float(20 * np.log10(max(rms, 1.0) / 32768))
