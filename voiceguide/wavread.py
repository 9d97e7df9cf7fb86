"""A WAV file someone else made (a routine's chime, a bed), read safely and made mono at ours.

Whatever another program writes as WAV is read: integer PCM of any width, floats, the
WAVE_FORMAT_EXTENSIBLE header (libsndfile reads them all). Only a regular file is opened (a
FIFO would wait for a writer forever), and what the header claims is checked against the
limits and against the file's own size before anything is read (a header can claim billions of
frames). It is read and resampled block by block (soxr's stream), so memory follows the
result at our rate, not the file: 60 s at 192 kHz does not take hundreds of MB.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .clip import SAMPLE_RATE, Clip

if TYPE_CHECKING:
    from soundfile import SoundFile

MAX_FILE_S = 60
"""Longest sound file a routine or a bed may bring: a chime or a loop, not a soundtrack."""
RATES = (8000, 192_000)
"""Sample rates such a file may have (Hz)."""
MAX_FILE_BYTES = MAX_FILE_S * RATES[1] * 2 * 8 + (1 << 20)
"""The largest such file: 60 s of stereo 64-bit floats (the widest WAV sample) at the highest
rate, and room for metadata."""
CONTAINERS = ("WAV", "WAVEX", "RF64")
"""libsndfile's names for the WAV family (WAVEX: WAVE_FORMAT_EXTENSIBLE)."""
BLOCK_FRAMES = 1 << 16
"""Frames read and resampled at a time."""
_UNKNOWN_LENGTH = (0, 0xFFFFFFFF)
"""A data length a writer that could not seek back leaves: "to the end of the file"."""


def read(path: Path) -> Clip:
    """The file as a mono 16-bit clip at SAMPLE_RATE. Raises ValueError (or OSError) for a file
    that is not one: each message says what is wrong and what would be right."""
    import soundfile as sf

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB: not a short sound")
        claim = _data_claim(file, size)
        file.seek(0)
        try:
            with sf.SoundFile(file) as audio:
                _check(audio, claim, size)
                return _mono_at_our_rate(audio)
        except sf.LibsndfileError as exc:
            raise ValueError(f"not a WAV file ({exc.error_string.rstrip('.')})") from exc


def _check(audio: SoundFile, claim: tuple[int, int, int] | None, size: int) -> None:
    channels, rate, frames = audio.channels, audio.samplerate, audio.frames
    if audio.format not in CONTAINERS:
        raise ValueError(f"not a WAV file (a {audio.format} file)")
    if channels not in (1, 2):
        raise ValueError(f"expected mono or stereo, got {channels} channels")
    low, high = RATES
    if not low <= rate <= high:
        raise ValueError(f"a sample rate of {rate} Hz; expected {low}-{high} Hz")
    if claim is not None:
        start, data, block_align = claim
        if start + data > size:
            claimed = data // block_align if block_align else data
            unit = "frames" if block_align else "bytes"
            raise ValueError(
                f"truncated: its header claims {claimed} {unit}, more than its {size} bytes hold"
            )
    if not 0 < frames <= MAX_FILE_S * rate:
        raise ValueError(f"must last from a moment to {MAX_FILE_S} s")


def _mono_at_our_rate(audio: SoundFile) -> Clip:
    import numpy as np
    import soxr

    rate = audio.samplerate
    stream = (
        soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        if rate != SAMPLE_RATE
        else None
    )
    out = []
    for block in audio.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
        if not np.isfinite(block).all():
            raise ValueError("holds samples that are not numbers (NaN or infinity)")
        mono = block.mean(axis=1, dtype=np.float32)
        out.append(mono if stream is None else stream.resample_chunk(mono))
    if stream is not None:
        out.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    x = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")
    return Clip(pcm.tobytes())


def _data_claim(file: BinaryIO, size: int) -> tuple[int, int, int] | None:
    """(where the data chunk starts, its length as the header says, the fmt chunk's bytes per
    frame or 0) of a RIFF WAV; None where the header does not say (not RIFF, RF64's own sizes, a
    writer that left the length open)."""
    head = file.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, block_align = 12, 0
    for _ in range(64):  # a WAV has a handful of chunks before its data
        file.seek(offset)
        chunk = file.read(8)
        if len(chunk) < 8:
            return None
        name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"fmt ":
            fmt = file.read(min(length, 16))
            block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else 0
        elif name == b"data":
            if length in _UNKNOWN_LENGTH:
                return None
            return offset + 8, length, block_align
        offset += 8 + length + (length & 1)
        if offset >= size:
            return None
    return None
