"""Utterance -> command or None: pocketsphinx with the command grammar and a garbage loop.

A grammar forced to choose always hears some command, so the commands compete with a loop of
common English words (GARBAGE): anything else said is heard as a run of those, and answers
None. The loop's words are the most frequent words of the language model in pocketsphinx's
own en-us model, the command words left out; the alternatives measured against it (score
thresholds, a phone loop, the general language model, keyphrase spotting) and the figures:
docs/listening.md.

The command words are also known by the other ways they are said (`commands.SOUNDS`). In a
loud room (LOUD_ROOM_DB) the room's noise is gated out first (`denoise`), and the command
must also be named by the commands alone on the utterance as it came. Whisper gives a second
opinion (`transcriber`, weighed by `agree`; in a loud room, when that answers nothing, on the
utterance with the noise gated out too; where still nothing was heard and Whisper wrote a
word or two, by how likely Whisper finds each command): it hears many commands pocketsphinx
misses, and writes down as talk the few sentences pocketsphinx takes for commands.
Decoder settings that matter: no lattice bestpath pass (it ends hypotheses one word short);
the feature computation restarted before every utterance (live CMN would otherwise carry
one utterance into the next, and the answer would depend on what came before); a fixed, seeded
noise floor under the samples (digital silence throws off the feature normalization). With
these, `recognize` is a pure function of its inputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .commands import OWN, SOUNDS, Command, command_of, grammar, words
from .segmenter import RATE, dbfs

if TYPE_CHECKING:
    import pocketsphinx

    from .transcriber import Transcriber

_log = logging.getLogger("voiceguide.listen")

_GARBAGE_WORDS = """
    the to i and a of you in is for but know was have they like be not so with are one this
    yeah he just my we as what if do at or about all think there would from two me people
    can your get out no said up when an had right well hundred really has thousand will
    because how them she been by some who their his were now then good mean than going her
    see could much other five got three even too only want did him something where very here
    way which nine lot make say first years any new our also over into year thing still four
    should work things those take us most why these never twenty need after being little
    down kind point actually many day off come same six before last look sure eight money
    doing pretty around seven always guess life dollars long yes better probably every world
    does anything maybe school great find though made big feel through thirty cause game old
    put use different stuff home may might used am thought while best since man love own
    getting another fifty few bad give part percent live family tell ever gonna again went
    someone help keep everything try play hard done enough trying end away its place far
    forty talk ninety both real says country kids times least person bit such million high
    exactly told nothing friends believe let call having able show else watch job ago nice
    start once whole house government problem looking change children each without days
    found true saying between less week seen already makes guy course care name second came
    sixty pay talking until making seems eighty thanks either idea seventy read yet
    definitely team working city wanted left remember fact night business months
"""
GARBAGE = tuple(_GARBAGE_WORDS.split())
"""The 300 most frequent words of the en-us language model, command and polite words and a
few interjections left out."""

GARBAGE_WEIGHT = 1e-15
"""The garbage loop's prior against the commands: smaller hears more commands (and more
talk as commands). Chosen on the measurements in docs/listening.md."""
WORD_PENALTY = 0.01
"""pocketsphinx's word insertion penalty (default 0.65): a run of garbage words pays it at
every word, a command once or twice, so talk goes to the loop and commands stay."""

SILENCE_PROB = 1.0
"""pocketsphinx's silence insertion probability (default 0.005): a voice that pauses inside
"ten more seconds", or breathes before "pause", keeps its command; 82 -> 87% of commands heard
on the tests' voices, 80 -> 83% on six others, one more false action in 31 minutes of talk."""

NOISE_LSB = 16.0
"""Standard deviation of the noise floor added before decoding, in 16-bit steps (-66 dBFS)."""

LOUD_ROOM_DB = 20.0
"""A room is loud when an utterance stands less than this far above its quiet (RMS, dB): a
fan 10 dB below the voice measured 3 to 12 dB, a quiet room 30 to 45, whatever the
microphone's gain. There a command is heard only when the utterance with the room's noise
gated out (`denoise`) names it against the garbage loop and the utterance as it came names
the same command with the commands alone. A fan 10 dB below the voice: 57 -> 68% of
commands heard, no more talk taken for a command (docs/listening.md)."""


TALK_WORDS = 3
"""A transcript of this many words or more, none of them the command's own, is talk."""
LIKELY = 0.1
"""A command phrase at least this likely (the geometric mean of its tokens' probabilities,
forced through Whisper) where nothing else was heard is taken: commands misheard in noise
measured 0.03-0.6, short talk at most 0.045 (docs/listening.md)."""


def agree(heard: Command | None, said: str) -> Command | None:
    """One answer from pocketsphinx's command (`heard`) and Whisper's words (`said`):

    - Whisper writes a command: that command, even when pocketsphinx names another (of 12
      such utterances measured, Whisper was right in 11: it writes freely, so a command
      written exactly is strong evidence, where pocketsphinx must choose among a few words);
    - Whisper writes a sentence (TALK_WORDS or more) with none of the command's own words:
      talk ("Step away from the wall." taken for stop), nothing;
    - otherwise pocketsphinx's answer: Whisper wrote noise, a word it misheard, or nothing.
    Measured on commands and talk by seven voices in docs/listening.md."""
    named = command_of(said)
    if named is not None:
        return named
    if heard is None:
        return None
    written = words(said).split()
    if len(written) >= TALK_WORDS and not OWN[heard] & set(written):
        return None
    return heard


class Recognizer:
    """One pocketsphinx decoder with the command grammar and Whisper beside it, created
    once, reused for every utterance. Not thread-safe: use it from one thread (the listening
    thread)."""

    def __init__(
        self, sounds: Mapping[str, tuple[str, ...]] = SOUNDS, second_opinion: bool = True
    ) -> None:
        """`sounds`: the other ways command words are said (phones), known beside the
        dictionary's own. `second_opinion`: load Whisper beside pocketsphinx; if it cannot
        be loaded, one warning, and pocketsphinx decides alone."""
        import pocketsphinx

        start = time.perf_counter()
        self._decoder: pocketsphinx.Decoder = pocketsphinx.Decoder(
            lm=None,
            samprate=RATE,
            bestpath=False,
            wip=WORD_PENALTY,
            silprob=SILENCE_PROB,
            loglevel="FATAL",
        )
        for word, ways in sounds.items():
            n = 2
            for phones in ways:
                while self._decoder.lookup_word(f"{word}({n})") is not None:
                    n += 1
                self._decoder.add_word(f"{word}({n})", phones, False)
        self._decoder.add_jsgf_string("commands", grammar(GARBAGE, GARBAGE_WEIGHT))
        self._decoder.add_jsgf_string("forced", grammar())
        self.transcriber: Transcriber | None = None
        if second_opinion:
            from .transcriber import Transcriber, TranscriberError

            try:
                self.transcriber = Transcriber()
            except TranscriberError as exc:
                _log.warning(f"listening with pocketsphinx alone: {exc}")
        self.load_seconds = time.perf_counter() - start
        """How long creating the decoder (and loading Whisper) took."""

    def recognize(
        self, utterance: npt.NDArray[np.int16], room: npt.NDArray[np.int16] | None = None
    ) -> Command | None:
        """The command said in `utterance` (16 kHz mono int16, as the segmenter gives it), or
        None when it is not a command. `room`: the quiet before it (`Segmenter.room`); when
        the utterance stands less than LOUD_ROOM_DB above it, the loud room's rule decides."""
        if len(utterance) == 0:
            return None
        cleaned = None
        if room is not None and dbfs(utterance) - dbfs(room) < LOUD_ROOM_DB:
            from .denoise import denoise

            cleaned = denoise(utterance, room)
        heard = self._heard(utterance, cleaned)
        if self.transcriber is None:
            return heard
        said = self.transcriber.text(utterance)
        answer = agree(heard, said)
        if answer is None and cleaned is not None:
            # a loud room: Whisper also hears the room's noise gated out
            answer = agree(heard, self.transcriber.text(cleaned))
        if answer is None and len(words(said).split()) < TALK_WORDS:
            # a word or two that is no command ("Nick", "Go Mac!"): a command misheard, or a
            # short word of talk; Whisper's own likelihood of each command tells them apart
            command, likelihood = self.transcriber.likeliest(utterance)
            if likelihood >= LIKELY:
                answer = command
        return answer

    def _heard(
        self, utterance: npt.NDArray[np.int16], cleaned: npt.NDArray[np.int16] | None
    ) -> Command | None:
        """pocketsphinx's answer alone; `cleaned`: the utterance with a loud room's noise
        gated out, None in a quiet room."""
        if cleaned is None:
            return self._decode(utterance, "commands")
        heard = self._decode(cleaned, "commands")
        if heard is None or self._decode(utterance, "forced") != heard:
            return None
        return heard

    def _decode(self, utterance: npt.NDArray[np.int16], search: str) -> Command | None:
        noise = np.random.default_rng(0).normal(0.0, NOISE_LSB, len(utterance))
        pcm = np.clip(np.round(utterance + noise), -32768, 32767).astype("<i2").tobytes()
        decoder = self._decoder
        decoder.activate_search(search)
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return None if hypothesis is None else command_of(hypothesis.hypstr)
