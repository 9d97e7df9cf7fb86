"""Listening for voice commands, offline: the microphone, the half-duplex gate, the energy
segmenter, the command recognizer (pocketsphinx with a grammar), and the listener that runs
them beside the player. Audio is never stored and never leaves the machine.

One module per idea: `commands` (the phrases and their grammar), `segmenter` (frames ->
short utterances), `recognizer` (an utterance -> a command, or none), `gate` (heard only
while the guide is silent), `microphone` (sounddevice), `listener` (the thread that joins
them). docs/listening.md has the measurements behind each choice.
"""

from .gate import Gate
from .listener import Listener
from .microphone import MicrophoneError

__all__ = ["Gate", "Listener", "MicrophoneError"]
