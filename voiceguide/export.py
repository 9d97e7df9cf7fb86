"""Rendered sections -> audio files with tags and chapters, plus a synced transcript.

Everything is written to a temporary file beside the target and renamed into place only when
complete (`files.replacing`, the way every file the program writes is written): an interrupted
or failed export leaves nothing behind and never touches an existing file at the target path.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mutagen import MutagenError

from .clip import SAMPLE_RATE
from .errors import ExportError, UsageError
from .files import check_not_input, check_output, replacing, target
from .timeline import Section, Timeline

if TYPE_CHECKING:
    from .render import Samples

FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),  # written by LAME itself (mp3.py), not libsndfile
}
TRANSCRIPTS = (".vtt", ".srt", ".lrc")
BLOCK = SAMPLE_RATE
"""Samples per encoder call: libsndfile 1.2.2 crashes encoding long Vorbis buffers in one call,
and small blocks keep memory flat."""

Progress = Callable[[int, int], None]
"""Called with (milliseconds written, total milliseconds)."""


MP4 = (".m4a", ".m4b")
"""AAC in MP4 with chapters and a cover, written by mp4.py (FFmpeg through PyAV)."""


def check_targets(audio: Path, transcript: Path | None = None, *, force: bool = False) -> None:
    """Refuse unknown formats, and places we cannot or should not write, before any work."""
    if audio.suffix.lower() not in (*FORMATS, *MP4):
        raise UsageError(
            f"{audio}: unknown audio format {audio.suffix or '(none)'!r}; "
            f"use one of {', '.join((*FORMATS, *MP4))}"
        )
    if transcript is not None and transcript.suffix.lower() not in TRANSCRIPTS:
        raise UsageError(
            f"{transcript}: unknown transcript format "
            f"{transcript.suffix or '(none)'!r}; use one of {', '.join(TRANSCRIPTS)}"
        )
    for path in (audio, transcript):
        if path is not None:
            check_output(path, force=force)
    if transcript is not None and target(transcript) == target(audio):
        raise UsageError(f"{transcript}: is the audio file itself; choose another transcript")


def check_inputs(outputs: Iterable[Path | None], inputs: Iterable[Path]) -> None:
    """Refuse to write over a file the export reads: the routine, its sounds, the config."""
    check_not_input(outputs, inputs, "export")


def export(
    title: str,
    made: Iterable[tuple[Section, Iterable[Samples]]],
    audio: Path,
    *,
    expected_ms: int = 0,
    transcript: Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
    channels: int = 1,
) -> Timeline:
    """Write each section's blocks (the renderer's int16 blocks of `channels`) to `audio`,
    tagged with `title` and one chapter per section; optionally a transcript too. The sections
    may be laid out as they are asked for (their speech still being made): the tags and the
    transcript follow the last, and progress counts to `expected_ms` until it is known.
    MP4 wants its chapters and cover before its audio, so it asks for every section first.
    `force` replaces a read-only file (which stays read-only). The timeline written."""
    check_targets(audio, transcript, force=force)
    suffix = audio.suffix.lower()
    try:
        with contextlib.ExitStack() as stack:
            temp = stack.enter_context(replacing(audio, force=force))
            if suffix in MP4:
                from . import mp4

                laid_out = list(made)  # every section, none of it rendered yet
                timeline = Timeline(title, tuple(section for section, _ in laid_out))
                mp4.write(
                    timeline,
                    (blocks for _, blocks in laid_out),
                    temp,
                    suffix,
                    channels=channels,
                    progress=progress,
                )
            else:
                seen: list[Section] = []
                _encode(_blocks(made, seen, expected_ms, progress), temp, suffix, channels)
                timeline = Timeline(title, tuple(seen))
                _tag(temp, suffix, timeline)
            if transcript is not None:
                text = TRANSCRIPT_WRITERS[transcript.suffix.lower()](timeline)
                # the transcript is renamed first: the audio's rename is the last step of all
                with replacing(transcript, force=force) as t:
                    t.write_text(text, encoding="utf-8")
    except (OSError, RuntimeError, MutagenError) as exc:
        # mutagen re-raises an OSError as its own error; the OSError says what went wrong
        cause = exc if isinstance(exc, OSError) else exc.__context__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
        raise ExportError(
            f"{audio}: could not write the export ({reason}); nothing was written"
        ) from exc
    return timeline


def _encode(blocks: Iterable[Samples], path: Path, suffix: str, channels: int) -> None:
    if suffix == ".mp3":
        _encode_mp3(blocks, path, channels)
        return
    import soundfile as sf

    fmt, subtype = FORMATS[suffix]
    with sf.SoundFile(path, "w", SAMPLE_RATE, channels, subtype, format=fmt) as out:
        for block in blocks:
            try:
                out.write(block)
            except sf.LibsndfileError as exc:
                raise OSError(_system_error(out, exc)) from exc


def _blocks(
    made: Iterable[tuple[Section, Iterable[Samples]]],
    seen: list[Section],
    expected_ms: int,
    progress: Progress | None,
) -> Iterator[Samples]:
    """The renderer's blocks cut to at most BLOCK samples; each section kept in `seen` as it
    comes, and progress told after it."""
    for section, blocks in made:
        seen.append(section)
        for pcm in blocks:
            for i in range(0, len(pcm), BLOCK):
                yield pcm[i : i + BLOCK]
        if progress is not None:
            progress(section.end, max(expected_ms, section.end))
    if progress is not None and seen:
        progress(seen[-1].end, seen[-1].end)


def _encode_mp3(blocks: Iterable[Samples], path: Path, channels: int) -> None:
    """LAME through lameenc, at a constant phone-quality bit rate (mp3.py)."""
    from .mp3 import Mp3Writer

    with path.open("wb") as file, Mp3Writer(file, SAMPLE_RATE, channels) as out:
        for block in blocks:
            out.write(block)
        out.close()


def _system_error(out: Any, exc: Exception) -> str:
    """libsndfile's own words for a failed write, e.g. "No space left on device", not the
    bare "System error." that soundfile reports."""
    import soundfile as sf

    try:
        detail = sf._ffi.string(sf._snd.sf_strerror(out._file)).decode("utf-8", "replace")
    except Exception:
        return str(exc)
    return detail.removeprefix("System error :").strip().rstrip(".") or str(exc)


def _tag(path: Path, suffix: str, timeline: Timeline) -> None:
    if suffix == ".mp3":
        _tag_mp3(path, timeline)
    elif suffix in (".flac", ".ogg"):
        _tag_vorbis(path, suffix, timeline)


def _tag_mp3(path: Path, timeline: Timeline) -> None:
    from mutagen.id3 import CHAP, CTOC, ID3, TALB, TIT2, TPE1, CTOCFlags
    from mutagen.id3._tags import save_frame

    class InOrder(ID3):
        """Frames in the order added. mutagen sorts them by size, and players list CHAP frames
        in file order, so chapters would come out shuffled."""

        def _write(self, config: object) -> bytearray:
            return bytearray().join(save_frame(f, config=config) for f in self.values())

    tags = InOrder()
    tags.add(TIT2(encoding=3, text=[timeline.title]))
    tags.add(TALB(encoding=3, text=[timeline.title]))
    tags.add(TPE1(encoding=3, text=["voiceguide"]))
    ids = [f"chp{i}" for i in range(len(timeline.sections))]
    tags.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[TIT2(encoding=3, text=["Chapters"])],
        )
    )
    for cid, section in zip(ids, timeline.sections, strict=True):
        tags.add(
            CHAP(
                element_id=cid,
                start_time=section.start,
                end_time=section.end,
                sub_frames=[TIT2(encoding=3, text=[section.title])],
            )
        )
    tags.save(str(path), v2_version=4)


def _tag_vorbis(path: Path, suffix: str, timeline: Timeline) -> None:
    from mutagen.flac import FLAC
    from mutagen.oggvorbis import OggVorbis

    audio = FLAC(str(path)) if suffix == ".flac" else OggVorbis(str(path))
    audio["TITLE"] = timeline.title
    audio["ALBUM"] = timeline.title
    audio["ARTIST"] = "voiceguide"
    for i, section in enumerate(timeline.sections, 1):
        audio[f"CHAPTER{i:03d}"] = _stamp(section.start, ".")
        audio[f"CHAPTER{i:03d}NAME"] = section.title
    audio.save()


# --- transcripts --------------------------------------------------------------------------


def _stamp(ms: int, sep: str) -> str:
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{ms:03d}"


def _speech(timeline: Timeline) -> list[tuple[int, int, str]]:
    """Each cue on one line: a line break would end a cue early in every format."""
    return [
        (e.start, e.end, " ".join(e.text.split()))
        for e in timeline.events
        if e.kind == "speech" and e.text
    ]


JOINER = "\u2060"
"""WORD JOINER: invisible, and where it stands a reader cannot take text for markup."""
_SRT_ESCAPES = {"<": "<" + JOINER, "{": "\\{" + JOINER, "}": "\\}", "\\": "\\" + JOINER}
_SRT_MARKUP = re.compile(r"[<{}\\]")


def _vtt_text(text: str) -> str:
    """WebVTT's own escapes; and a joiner after a backslash, which ffmpeg and libass would
    otherwise read as a line break (`\\N`)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\" + JOINER)


def _srt_text(text: str) -> str:
    """SubRip has no escapes, and its readers take `<i>` for a tag and `{\\an8}` for an ASS
    override: a joiner after `<`, braces as ASS escapes them, no arrow, no bare number."""
    text = _SRT_MARKUP.sub(lambda found: _SRT_ESCAPES[found[0]], text)
    text = text.replace("-->", "--" + JOINER + ">")
    return JOINER + text if text.isdecimal() else text


def _lrc_text(text: str) -> str:
    """A bracket at the start of a lyric line would be read as another time tag."""
    return JOINER + text if text.startswith("[") else text


def _lrc_tag(text: str) -> str:
    """A tag's value ends at the first `]`, and has no escapes."""
    return text.translate({ord("["): "(", ord("]"): ")"})


def vtt(timeline: Timeline) -> str:
    cues = [
        f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{_vtt_text(text)}\n"
        for a, b, text in _speech(timeline)
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def srt(timeline: Timeline) -> str:
    cues = [
        f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{_srt_text(text)}\n"
        for i, (a, b, text) in enumerate(_speech(timeline), 1)
    ]
    return "\n".join(cues)


def lrc(timeline: Timeline) -> str:
    def stamp(ms: int) -> str:
        minutes, rest = divmod(ms // 10, 6000)
        return f"[{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}]"

    length = timeline.duration // 1000
    lines = [
        f"[ti:{_lrc_tag(timeline.title)}]",
        "[by:voiceguide]",
        f"[length:{length // 60:02d}:{length % 60:02d}]",
    ]
    lines += [f"{stamp(a)}{_lrc_text(text)}" for a, _, text in _speech(timeline)]
    return "\n".join(lines) + "\n"


TRANSCRIPT_WRITERS: dict[str, Callable[[Timeline], str]] = {".vtt": vtt, ".srt": srt, ".lrc": lrc}
