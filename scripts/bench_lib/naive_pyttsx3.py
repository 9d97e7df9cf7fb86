"""Baseline (b): speech the way a user would write it with pyttsx3, for `scripts/bench`.

One `save_to_file` + `runAndWait` per cue, then the clips concatenated into one WAV. No
worker processes, no cache, no checks: the obvious loop from pyttsx3's documentation.

    python naive_pyttsx3.py CUES.txt OUT.wav VOICE RATE   (one cue per line)
"""

from __future__ import annotations

import os
import sys
import tempfile
import wave

import pyttsx3


def main() -> None:
    cues_path, out_path, voice, rate = sys.argv[1:5]
    with open(cues_path, encoding="utf-8") as f:
        cues = [line.strip() for line in f if line.strip()]
    engine = pyttsx3.init()
    engine.setProperty("voice", voice)
    engine.setProperty("rate", int(rate))
    with tempfile.TemporaryDirectory() as scratch:
        parts = []
        for i, cue in enumerate(cues):
            part = os.path.join(scratch, f"{i}.wav")
            engine.save_to_file(cue, part)
            engine.runAndWait()
            parts.append(part)
        with wave.open(out_path, "wb") as out:
            for i, part in enumerate(parts):
                with wave.open(part, "rb") as clip:
                    if i == 0:
                        out.setparams(clip.getparams())
                    out.writeframes(clip.readframes(clip.getnframes()))


if __name__ == "__main__":
    main()
