"""`voiceguide play` through simpleaudio into a real (virtual) PulseAudio device, recorded and
checked against the export of the same routine."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide import api
from voiceguide.clip import SAMPLE_RATE
from voiceguide.player import EXTRA_MS
from voiceguide.render import render
from voiceguide.timeline import Event, ms_to_samples

from .audio_device import VirtualDevice, find_offset, locate
from .conftest import ROUTINES
from .memory_probe import watch

pytestmark = [pytest.mark.device, pytest.mark.speech, pytest.mark.timeout(900)]
"""Each plays a routine in real time (the short one is 2.5 minutes), some of it twice."""
SHORT = str(ROUTINES / "short.toml")
REPO = Path(__file__).parent.parent
TOLERANCE = SAMPLE_RATE // 50  # 20 ms


def play(
    device: VirtualDevice, *args: str, wait_s: str = "", **kwargs: object
) -> subprocess.Popen[bytes]:
    env = dict(device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    if wait_s:
        env["VOICEGUIDE_DEVICE_WAIT_S"] = wait_s
    return subprocess.Popen(
        [sys.executable, "-m", "voiceguide", "play", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def onset_error(recording: np.ndarray, expected: int, piece: np.ndarray) -> int:
    """How far (samples) from `expected` the sound `piece` was heard in the recording."""
    error, similarity = locate(recording, expected, piece, search=2 * TOLERANCE)
    assert similarity > 0.9, f"sound not found near sample {expected}"
    return error


def sounds(events: tuple[Event, ...]) -> list[Event]:
    return [e for e in events if e.kind in ("speech", "chime")]


def test_play_sounds_exactly_like_the_export_on_time(audio_device: VirtualDevice) -> None:
    """In brief detail: a minute shorter in real time (the bench checks the full routine)."""
    prepared = api.prepare(
        SHORT, api.Options(detail="brief")
    )  # fills the cache: play and this test
    reference = render(prepared.timeline, prepared.clips)  # use the same clips
    with audio_device.record("play") as recorder:
        proc = play(audio_device, SHORT, "--yes", "--detail", "brief")
        out, err = proc.communicate(timeout=prepared.timeline.duration / 1000 + 60)
    assert proc.returncode == 0, err.decode()
    assert err == b""
    titles = [line.split(" ", 1)[1] for line in out.decode().splitlines()]
    assert titles == [s.title for s in prepared.timeline.sections]
    recording = recorder.samples()
    first = find_offset(recording[: 20 * SAMPLE_RATE], reference[: 5 * SAMPLE_RATE])
    events = sounds(prepared.timeline.events)
    errors = []
    for e in events:
        at = ms_to_samples(e.start, SAMPLE_RATE)
        piece = reference[at : at + min(ms_to_samples(e.duration, SAMPLE_RATE), SAMPLE_RATE // 2)]
        errors.append(onset_error(recording, first + at, piece))
    assert max(abs(x) for x in errors) <= TOLERANCE, errors
    for section in prepared.timeline.sections:  # each one the export's audio, bit for bit
        a, b = ms_to_samples(section.start, SAMPLE_RATE), ms_to_samples(section.end, SAMPLE_RATE)
        shift = onset_error(recording, first + a, reference[a : a + SAMPLE_RATE * 2])
        heard = recording[first + a + shift : first + b + shift]
        assert len(heard) == b - a, "the recording ends before the routine"
        differs = np.count_nonzero((heard != reference[a:b]).any(axis=1))  # frames
        assert differs < SAMPLE_RATE // 100, section.title
    sided = [e for e in events if e.kind == "speech" and e.side in ("left", "right")]
    assert sided, "the routine has cues of a side"
    for e in sided:  # in stereo: the side worked is the louder ear
        a, b = ms_to_samples(e.start, SAMPLE_RATE), ms_to_samples(e.end, SAMPLE_RATE)
        energy = (recording[first + a : first + b].astype(np.float64) ** 2).sum(axis=0)
        near, far = (0, 1) if e.side == "left" else (1, 0)
        assert energy[near] > 2 * energy[far], (e.text, energy)


def test_keys_through_the_device_skip_extend_and_quit(audio_device: VirtualDevice) -> None:
    prepared = api.prepare(SHORT)
    technique = prepared.timeline.sections[1]
    hold = next(e for e in technique.events if e.kind == "hold")
    leader, follower = pty.openpty()
    with audio_device.record("keys") as recorder:
        proc = play(audio_device, SHORT, "--yes", stdin=follower)
        os.close(follower)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith(b"Get comfortable")  # the prompt: a tty
            os.write(leader, b"\n")
            time.sleep(2)
            os.write(leader, b"n")  # "Next: Shoulder roll." then the technique from its start
            line = proc.stdout.readline()
            assert b"Introduction" in line
            assert b"Shoulder roll" in proc.stdout.readline()
            resumed = time.monotonic()
            time.sleep((hold.start - technique.start + 3000) / 1000)
            os.write(leader, b"+")
            time.sleep(
                (hold.end - technique.start + EXTRA_MS + 2000) / 1000 - (time.monotonic() - resumed)
            )
            os.write(leader, b"q")
            _, err = proc.communicate(timeout=30)
        finally:
            os.close(leader)
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err.decode()
    recording = recorder.samples()
    reference = render(prepared.timeline, prepared.clips)
    start = ms_to_samples(technique.start, SAMPLE_RATE)
    at = find_offset(recording, reference[start : start + 3 * SAMPLE_RATE])
    assert at > 2 * SAMPLE_RATE, "the technique starts after the skip, not at the top"
    for e in sounds(technique.events):
        if e.end > hold.end + 1000:
            break  # q was pressed around here
        shift = EXTRA_MS if e.start >= hold.start + 3000 else 0
        ref_at = ms_to_samples(e.start, SAMPLE_RATE)
        piece = reference[ref_at : ref_at + min(ms_to_samples(e.duration, SAMPLE_RATE), 11025)]
        expected = at + ms_to_samples(e.start + shift, SAMPLE_RATE) - start
        error = onset_error(recording, expected, piece)
        assert abs(error) <= TOLERANCE, (e, error)
    press = at + ms_to_samples(hold.start + 3000, SAMPLE_RATE) - start
    assert np.abs(recording[press : press + 2 * SAMPLE_RATE]).max() > 2000, "no 'ten more seconds'"


def test_ctrl_c_silences_at_once_restores_the_terminal_and_exits_130(
    audio_device: VirtualDevice,
) -> None:
    import termios

    prepared = api.prepare(SHORT)
    reference = render(prepared.timeline, prepared.clips)
    leader, follower = pty.openpty()
    before = termios.tcgetattr(follower)
    with audio_device.record("ctrl-c") as recorder:
        proc = play(audio_device, SHORT, "--yes", stdin=follower)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith(b"Get comfortable")
            os.write(leader, b"\n")
            assert b"Introduction" in proc.stdout.readline()
            began = time.monotonic()  # the status line follows the first buffer's start
            time.sleep(3)
            assert termios.tcgetattr(follower) != before, "keys are read one at a time"
            interrupted = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
            restored = termios.tcgetattr(follower)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(leader)
            os.close(follower)
    assert proc.returncode == 130
    assert err.decode().strip() == "interrupted"
    assert restored == before
    recording = recorder.samples()
    start = find_offset(recording[: 10 * SAMPLE_RATE], reference[: 2 * SAMPLE_RATE])
    heard = recording[start : start + len(reference)]
    differs = np.flatnonzero(
        (heard[SAMPLE_RATE:] != reference[SAMPLE_RATE : len(heard)]).any(axis=1)
    )
    cut = SAMPLE_RATE + int(differs[0])  # where the recording stops following the routine
    assert not np.any(heard[cut + SAMPLE_RATE // 100 :]), "silence after the cut"
    silent_after = cut / SAMPLE_RATE - (interrupted - began)
    print(f"sound stopped {silent_after * 1000:.0f} ms after SIGINT")
    assert silent_after < 0.5


TINY = """title = "Tiny"
transition = 1

[[technique]]
title = "Nod"
steps = [{ say = "Nod slowly." }, { hold = 4 }]
"""


def assert_whole_routine(recording: np.ndarray, reference: np.ndarray, late_s: float) -> None:
    """Second by second, the routine is in the recording as rendered (a second cut in two by
    a stop or a resumed sink aside), ending with the end chime at least `late_s` late."""
    piece = SAMPLE_RATE
    shift = find_offset(recording[: 10 * SAMPLE_RATE], reference[: 3 * SAMPLE_RATE])
    first, missing, last = shift, [], 0

    def heard(at: int) -> bool:
        got = recording[at + shift : at + shift + piece]
        # the first second may lose a few ms as the device starts, as the export comparison
        # above allows per section (a trimmed first cue starts 20 ms in)
        allowed = SAMPLE_RATE // 100 if at == 0 else 50
        if len(got) != piece:
            return False
        differs = np.count_nonzero((got != reference[at : at + piece]).any(axis=1))  # frames
        return differs < allowed

    for at in range(0, len(reference) - piece + 1, piece):
        if not reference[at : at + piece].any():
            continue
        if not heard(at):  # after a stop, the rest comes later
            lo = max(0, at + shift - piece)
            window = recording[lo : lo + 20 * SAMPLE_RATE]
            if len(window) < piece:
                missing.append(at / SAMPLE_RATE)
                continue
            found = find_offset(window, reference[at : at + piece])
            shift, was = lo + found - at, shift
            if not heard(at):
                shift = was
                missing.append(at / SAMPLE_RATE)
                continue
        last = at
    assert len(missing) <= 2, f"not heard, at seconds {missing}"
    assert np.abs(reference[last:]).max() > 2000, "the last second heard holds the end chime"
    assert (shift - first) / SAMPLE_RATE >= late_s, "the stop is in the recording"


def test_a_stopped_process_and_a_suspended_sink_lose_nothing(
    audio_device: VirtualDevice, routine_file: Callable[[str], Path]
) -> None:
    """Ctrl-Z (here SIGSTOP) for 10 s, later the sink suspended for 10 s: the player waits for
    the device both times, and the whole routine is heard, end chime included. (A suspended
    sink's monitor records nothing, so only the stop shows as a gap.)"""
    tiny = str(routine_file(TINY))
    prepared = api.prepare(tiny, api.Options(detail="brief"))  # 50 s of routine rather than 96
    reference = render(prepared.timeline, prepared.clips)
    with audio_device.record("stopped") as recorder:
        proc = play(audio_device, tiny, "--yes", "--detail", "brief")
        try:
            assert proc.stdout is not None
            assert b"Introduction" in proc.stdout.readline()
            time.sleep(5)
            proc.send_signal(signal.SIGSTOP)
            time.sleep(10)
            proc.send_signal(signal.SIGCONT)
            time.sleep(20)
            audio_device.pactl("suspend-sink", audio_device.sink, "1")
            time.sleep(10)
            audio_device.pactl("suspend-sink", audio_device.sink, "0")
            _, err = proc.communicate(timeout=prepared.timeline.duration / 1000 + 60)
        finally:
            audio_device.pactl("suspend-sink", audio_device.sink, "0")
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err.decode()
    assert_whole_routine(recorder.samples(), reference, late_s=9)


def test_a_sink_that_stays_suspended_is_an_error_not_a_success(
    audio_device: VirtualDevice, routine_file: Callable[[str], Path]
) -> None:
    tiny = str(routine_file(TINY))
    duration = api.compile(tiny).duration / 1000
    audio_device.pactl("suspend-sink", audio_device.sink, "1")
    try:
        proc = play(audio_device, tiny, "--yes", wait_s="3")
        _, err = proc.communicate(timeout=duration + 60)
    finally:
        audio_device.pactl("suspend-sink", audio_device.sink, "0")
    assert proc.returncode == 1
    (line,) = [x for x in err.decode().splitlines() if not x.startswith("warning: ")]
    assert line.startswith("error: the sound device stopped playing: "), line


FAKE_PLATFORM = """
import ctypes, sys
real = ctypes.CDLL
def refuse(name, *args, **kwargs):
    if name and "asound" in str(name):
        raise AssertionError(f"{name} loaded on {sys.platform}")
    return real(name, *args, **kwargs)
ctypes.CDLL = refuse
import platformdirs, voiceguide.cli  # as imported there: some libraries choose at import
sys.platform = sys.argv.pop(1)
voiceguide.cli.main(sys.argv[1:])
"""


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_other_platforms_reach_the_sink_without_alsa(
    audio_device: VirtualDevice, platform: str
) -> None:
    """On macOS and Windows simpleaudio has no ALSA to quiet: `play` must not load it (here
    loading it fails loudly), and still plays."""
    env = dict(audio_device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    command = [sys.executable, "-c", FAKE_PLATFORM, platform, "play", SHORT, "--yes"]
    with audio_device.record(f"platform-{platform}") as recorder:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            assert b"Introduction" in proc.stdout.readline(), proc.stderr
            time.sleep(2)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert (proc.returncode, err.decode().strip()) == (130, "interrupted")
    assert np.abs(recorder.samples()).max() > 2000, "nothing was heard"


def test_play_holds_seconds_of_the_routine_in_memory_not_all_of_it(
    audio_device: VirtualDevice, tmp_path: Path
) -> None:
    """The routine's audio waits on disk (voiceguide/tape.py) and is dropped from memory once
    written into the playing buffer and once played. scripts/bench measures a longer one."""
    from .test_memory import long_cues

    routine = str(long_cues(tmp_path, 100))
    # espeak: a natural voice worker holds its model (about 200 MB, the same for any routine);
    # this measures what grows with the routine
    prepared = api.prepare(routine, api.Options(engine="espeak"))  # warm: play makes it all at once
    audio_mb = prepared.timeline.duration * 2 * SAMPLE_RATE / 1000 / 1e6
    prepared.clips.close()
    proc = play(audio_device, routine, "--yes", "--engine", "espeak")
    try:
        assert proc.stdout is not None
        assert b"Introduction" in proc.stdout.readline()
        peak_mb = watch(proc, seconds=20)  # not wait4: see tests/memory_probe.py
        proc.send_signal(signal.SIGINT)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == 130
    assert audio_mb > 140
    assert peak_mb < 150, f"{peak_mb:.0f} MB at the peak for {audio_mb:.0f} MB of audio"
