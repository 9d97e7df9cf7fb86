"""MP3 by LAME (lameenc): constant bit rate at phone quality, fast, the exact length.

A routine is mostly quiet (holds, rests), so LAME encodes only what sounds: each stretch of
sound gets a fresh encoder, started on the MP3 frame grid, and the quiet between is one
ready-made silent frame repeated. A fresh encoder's first frame uses no bit reservoir, so the
stream decodes as if one encoder had made it; a stretch ends only after several frames of
digital silence, so nothing of its sound is cut. The first frame is a LAME "Info" tag: the
frame count, the encoder delay and the padding, so decoders (ffmpeg, phones' players) give
back exactly the samples written. Why and what it measured: docs/export.md.
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from .render import Samples

BITRATES = {1: 64, 2: 96}
"""kb/s, constant: a spoken-word podcast's rates; constant so chapters seek exactly."""
QUALITY = 7
"""LAME's algorithm quality (2 best, 7 fast): 7 costs about half of 5's time (docs/export.md)."""
FRAME = 576
"""Samples per channel in an MPEG-2 Layer III frame (16, 22.05 and 24 kHz)."""
ENCODER_DELAY = 576
"""LAME's own delay before the first sample; decoders add 529 of theirs."""
DECODER_DELAY = 529
QUIET_FRAMES = 8
"""Frames of digital silence (192 ms at 24 kHz) that end a stretch of sound: more than the
delays and the filter banks' overlap, so the frames that carry a sound's tail are LAME's."""
JOB = 240_000
"""Samples of one stretch gathered before they are encoded (10 s at 24 kHz, a render block)."""
AHEAD = 6
"""Jobs (not silent frames) that may wait to be written before the writer waits for the
first: memory stays flat, and both threads have work while one job runs long."""
_SIDE_INFO = {1: 9, 2: 17}
"""Bytes of Layer III side information in an MPEG-2 frame, mono and stereo."""


class Mp3Writer:
    """Writes int16 blocks (frames x channels) to `out` as one MP3 stream, the stretches of
    sound encoded on `threads` threads (LAME lets go of the GIL); `close` writes what is left
    and the Info tag into the first frame (so `out` must be seekable). Used as a context
    manager: leaving it on an error drops the work not yet started."""

    def __init__(self, out: BinaryIO, sample_rate: int, channels: int, threads: int = 2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.rate, self.channels, self.kbps = sample_rate, channels, BITRATES[channels]
        self.frame_bytes, rest = divmod(72_000 * self.kbps, sample_rate)
        if rest or sample_rate > 24_000:
            raise ValueError(f"{sample_rate} Hz: not an MPEG-2 rate with whole frames")
        self._out = out
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="mp3")
        self._queue: deque[bytes | Future[bytes]] = deque()
        """What is still to be written, in stream order: silent frames, or a stretch's."""
        self._pending = _zeros(0, channels)
        self._stretch: _Stretch | None = None
        self._quiet = 0
        """Silent frames fed to the stretch since its last sound."""
        self._frames = 0
        """Frames written after the tag's."""
        self._samples = 0
        self._silence = _Stretch(self).silent_frame()
        out.write(bytes(self.frame_bytes))  # the tag's place

    def __enter__(self) -> Mp3Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def write(self, block: Samples) -> None:
        import numpy as np

        x = block.reshape(-1, self.channels)
        self._samples += len(x)
        if len(self._pending):
            x = np.concatenate([self._pending, x])
        whole = len(x) // FRAME * FRAME
        x, self._pending = x[:whole], x[whole:]
        if whole:
            loud = np.asarray(x.reshape(-1, FRAME * self.channels).any(axis=1), dtype=bool)
            edges = [0, *(np.flatnonzero(np.diff(loud)) + 1).tolist(), len(loud)]
            for start, end in itertools.pairwise(edges):
                self._run(x[start * FRAME : end * FRAME], bool(loud[start]))
        if self._stretch is not None and self._stretch.buffered >= JOB:
            self._queue.append(self._stretch.submit(self._pool, end=None))
        self._drain(AHEAD)

    def _run(self, x: Samples, loud: bool) -> None:
        """Whole frames, all sounding or all digital silence."""
        if loud:
            if self._stretch is None:
                self._stretch = _Stretch(self)
            self._stretch.feed(x)
            self._quiet = 0
            return
        frames = len(x) // FRAME
        if self._stretch is not None:
            tail = min(frames, QUIET_FRAMES - self._quiet)
            self._stretch.feed(x[: tail * FRAME])
            self._quiet += tail
            frames -= tail
            if self._quiet < QUIET_FRAMES:
                return
            self._queue.append(self._stretch.submit(self._pool, end="grid"))
            self._stretch = None
        if frames:
            self._queue.append(self._silence * frames)

    def _drain(self, ahead: int) -> None:
        """Write what is done, in order; wait while more than `ahead` jobs wait to be written
        (silent frames between them cost nothing to hold)."""
        while self._queue:
            head = self._queue[0]
            if not isinstance(head, bytes):
                jobs = sum(not isinstance(item, bytes) for item in self._queue)
                if not head.done() and jobs <= ahead:
                    return
                head = head.result()
            self._queue.popleft()
            self._out.write(head)
            self._frames += len(head) // self.frame_bytes

    def close(self) -> None:
        """Encode what is left, then write the Info tag over the first frame."""
        if len(self._pending) and self._stretch is None and self._pending.any():
            self._stretch = _Stretch(self)
        if self._stretch is not None:
            self._stretch.feed(self._pending)
            self._queue.append(self._stretch.submit(self._pool, end="all"))  # LAME's padding too
            self._stretch = None
        self._drain(0)
        # the last sample must reach a decoder through both delays
        needed = -(-(self._samples + ENCODER_DELAY + DECODER_DELAY) // FRAME)
        self._queue.append(self._silence * max(0, needed - self._frames))
        self._drain(0)
        self._out.seek(0)
        self._out.write(self._tag())

    def _tag(self) -> bytes:
        """The Info frame, as LAME writes it: its header the audio's, empty side information,
        "Info" (a constant bit rate) with the frame and byte counts, a linear seek table and a
        quality, then LAME's extension: its version, the encoder delay and padding, its CRC."""
        header = bytearray(self._silence[:4])
        header[2] &= ~0x02  # no padding slot
        total = (self._frames + 1) * self.frame_bytes
        padding = self._frames * FRAME - self._samples - ENCODER_DELAY
        toc = bytes(i * 256 // 100 for i in range(100))
        info = b"Info" + struct.pack(">III", 0x0F, self._frames, total) + toc + bytes(4)
        lame = b"LAME3.100" + bytes([0x01, 0]) + bytes(8) + bytes([0, min(self.kbps, 255)])
        lame += (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
        lame += bytes(4) + struct.pack(">IH", total, 0)  # misc, gain, preset; length, music CRC
        frame = bytes(header) + bytes(_SIDE_INFO[self.channels]) + info + lame
        frame += struct.pack(">H", _crc16(frame))
        return frame + bytes(self.frame_bytes - len(frame))


class _Stretch:
    """One LAME encoder over one stretch of sound, started on the writer's frame grid: its
    frame n is the stream's frame n after the stretch's first. Its samples are gathered, then
    encoded in jobs on the writer's threads, one after the other."""

    def __init__(self, writer: Mp3Writer) -> None:
        self._writer = writer
        self._chunks: list[Samples] = []
        self.buffered = 0
        self._fed = 0
        self._taken = 0
        self._last: Future[bytes] | None = None
        self._lame: Any = None
        self._rest = bytearray()

    def silent_frame(self) -> bytes:
        """LAME's first frame of digital silence: it uses no bit reservoir, so it stands
        anywhere in the stream."""
        self.feed(_zeros(4 * FRAME, self._writer.channels))
        return self._encode(self._take_chunks(), None, "all")[: self._writer.frame_bytes]

    def feed(self, x: Samples) -> None:
        self._chunks.append(x)
        self.buffered += len(x)
        self._fed += len(x)

    def _take_chunks(self) -> list[Samples]:
        chunks, self._chunks, self.buffered = self._chunks, [], 0
        return chunks

    def submit(self, pool: Executor, end: str | None) -> Future[bytes]:
        """A job encoding what was fed since the last one, after that one: its frames;
        with `end`, the stretch's last frames too: all of them ("all", the stream's end), or
        as many as the samples fed fill ("grid", where silence or the next stretch starts)."""
        last = self._last
        self._last = pool.submit(self._encode, self._take_chunks(), last, end)
        return self._last

    def _encode(self, chunks: list[Samples], after: Future[bytes] | None, end: str | None) -> bytes:
        import numpy as np

        if after is not None:
            after.result()  # the job before, on the other thread: LAME's state is in order
        if self._lame is None:
            self._lame = _encoder(self._writer)
        data, self._rest = self._rest, bytearray()
        for x in chunks:
            data += self._lame.encode(np.ascontiguousarray(x, dtype="<i2").tobytes())
        size = self._writer.frame_bytes
        if end is not None:
            data += self._lame.flush()
            if end == "grid":
                del data[max(0, self._fed // FRAME - self._taken) * size :]
        whole = len(data) // size * size
        self._rest = data[whole:]  # a frame LAME has not finished: the next job's
        del data[whole:]
        if (end and self._rest) or any(data[i] != 0xFF for i in range(0, whole, size)):
            raise RuntimeError("LAME's output is not whole frames of the expected size")
        self._taken += whole // size
        return bytes(data)


def _encoder(writer: Mp3Writer) -> Any:
    import lameenc

    lame = lameenc.Encoder()
    lame.set_channels(writer.channels)
    lame.set_in_sample_rate(writer.rate)
    lame.set_bit_rate(writer.kbps)
    lame.set_quality(QUALITY)
    lame.silence()
    return lame


def _zeros(frames: int, channels: int) -> Samples:
    import numpy as np

    return np.zeros((frames, channels), dtype=np.int16)


def _crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005, reflected), the LAME tag's."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
