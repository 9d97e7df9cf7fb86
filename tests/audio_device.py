"""A real (virtual) audio device for tests: PulseAudio null sink + ALSA routing.

``virtual_device()`` starts a private, user-mode PulseAudio daemon (its own HOME and
XDG_RUNTIME_DIR under a temporary directory) with one null sink at 24 kHz (the render
rate) stereo s16le, routes ALSA's default PCM there through an ``.asoundrc``, and tears
everything down by PID on exit (also on failure / Ctrl-C; the children additionally get a
parent-death signal through ``setpriv`` when it is available, so even a killed pytest leaves
nothing behind).  Anything that plays through ALSA (so simpleaudio) in a subprocess started
with ``device.env`` ends up in the sink; ``device.record()`` captures the sink's monitor.
At the render rate, stereo, the recording is bit-identical to what was played (frames x 2;
a mono stream is copied to both channels).

Wire the session fixture into ``tests/conftest.py`` with::

    from .audio_device import audio_device as audio_device
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

__all__ = [
    "REQUIRED_TOOLS",
    "SAMPLE_RATE",
    "DeviceError",
    "DeviceUnavailable",
    "Int16Array",
    "Recorder",
    "VirtualDevice",
    "audio_device",
    "find_offset",
    "first_sound",
    "missing_tools",
    "onsets",
    "running_under_ci",
    "virtual_device",
]

SAMPLE_RATE = 24000
CHANNELS = 2
"""The sink's: voiceguide plays in stereo."""
SINK_NAME = "voiceguide_test"
REQUIRED_TOOLS = ("pulseaudio", "pactl", "parec")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin
_ASOUNDRC = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"
# Host variables that would redirect PulseAudio / ALSA clients somewhere else.
_SCRUBBED_PREFIXES = ("PULSE_", "ALSA_")

Int16Array = npt.NDArray[np.int16]


class DeviceUnavailable(RuntimeError):
    """The PulseAudio tools are not installed (the fixture skips, or fails under CI)."""


class DeviceError(RuntimeError):
    """The tools are there but the virtual device could not be started or used."""


def missing_tools() -> list[str]:
    """Names from REQUIRED_TOOLS that are not on PATH."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def running_under_ci() -> bool:
    """True when CI is set to a true-ish value (CI=true on GitHub, GitLab, ...)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _pdeathsig_prefix() -> list[str]:
    """Prefix that makes a child die with us, even if we are SIGKILLed."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM"] if setpriv else []


def _stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal one child by PID, wait for it, escalate to SIGKILL. Always reaps."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


class Recorder:
    """Records the sink monitor into ``path`` (WAV, s16le stereo) while the context is open.

    ``started_at`` is the ``time.monotonic()`` reading taken right after the recording
    stream was confirmed connected, i.e. roughly the wall time of sample 0 (all processes
    on the machine share CLOCK_MONOTONIC, so a child's ``time.monotonic()`` compares).
    """

    def __init__(self, device: VirtualDevice, path: Path, settle: float) -> None:
        self.device = device
        self.path = path
        self.settle = settle
        self.started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def start(self) -> Recorder:
        if self._proc is not None:
            raise DeviceError("recorder already started")
        dev = self.device
        cmd = [
            *_pdeathsig_prefix(),
            "parec",
            "-d",
            dev.monitor,
            f"--rate={dev.rate}",
            f"--channels={CHANNELS}",
            "--format=s16le",
            "--file-format=wav",
            "--latency-msec=10",
            "--client-name=voiceguide-test-recorder",
            str(self.path),
        ]
        log = dev.root / f"{self.path.stem}.parec.log"
        with open(log, "wb") as log_file:
            self._proc = subprocess.Popen(
                cmd,
                env=dev.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
            )
        dev._children.append(self._proc)
        try:
            dev._wait_for_source_output(self._proc, what=f"recorder {self.path.name}")
        except BaseException:
            self.stop(settle=0.0)
            raise
        self.started_at = time.monotonic()
        return self

    def stop(self, settle: float | None = None) -> None:
        """Wait ``settle`` seconds (lets the last rendered audio reach us), then stop."""
        if self._proc is None or self._stopped:
            return
        delay = self.settle if settle is None else settle
        if delay > 0 and self._proc.poll() is None:
            time.sleep(delay)
        # parec finalises the WAV header on SIGTERM/SIGINT.
        _stop_process(self._proc)
        self._stopped = True
        with contextlib.suppress(ValueError):
            self.device._children.remove(self._proc)

    def samples(self) -> Int16Array:
        """The recorded frames (int16, frames x CHANNELS). Only valid after stop()."""
        if not self._stopped:
            raise DeviceError("Recorder.samples() called before the recording stopped")
        data, rate = soundfile.read(str(self.path), dtype="int16", always_2d=True)
        if rate != self.device.rate or data.shape[1] != CHANNELS:
            raise DeviceError(f"unexpected recording format: {rate} Hz, {data.shape[1]} ch")
        result: Int16Array = np.ascontiguousarray(data)
        return result

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(settle=0.0 if exc_type is not None else None)


@dataclass
class VirtualDevice:
    """A running private PulseAudio daemon with one null sink.

    ``env`` is a complete environment (os.environ plus the overrides in ``env_overrides``,
    minus the host's PULSE_* / ALSA_* variables) for a subprocess that should play into
    the device: pass it as ``subprocess.run(..., env=device.env)``.
    """

    root: Path
    rate: int
    sink: str
    server: str
    env: dict[str, str]
    env_overrides: dict[str, str]
    startup_seconds: float
    log_path: Path
    _daemon: subprocess.Popen[bytes]
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _recordings: int = 0

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"

    @property
    def pid(self) -> int:
        return self._daemon.pid

    def pactl(self, *args: str, check: bool = True) -> str:
        """Run pactl against this daemon and return its stdout."""
        proc = self._run_pactl(*args)
        if check and proc.returncode != 0:
            raise DeviceError(f"pactl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def _run_pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    def record(self, name: str | None = None, *, settle: float = 0.15) -> Recorder:
        """A Recorder context manager; the WAV goes to ``root/recordings/<name>.wav``.

        On a normal exit the recorder waits ``settle`` seconds before stopping so that
        audio still in flight reaches the file.
        """
        self._recordings += 1
        stem = name or f"recording-{self._recordings:03d}"
        out_dir = self.root / "recordings"
        out_dir.mkdir(exist_ok=True)
        return Recorder(self, out_dir / f"{stem}.wav", settle)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_source_output(
        self, proc: subprocess.Popen[bytes], what: str, timeout: float = 10.0
    ) -> None:
        """Block until ``proc`` has a connected recording stream on the daemon."""
        needle = f'application.process.id = "{proc.pid}"'
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise DeviceError(f"{what} exited early with status {proc.returncode}")
            if needle in self.pactl("list", "source-outputs", check=False):
                return
            if time.monotonic() > deadline:
                raise DeviceError(f"{what} did not connect within {timeout} s")
            time.sleep(0.01)

    def _spawn_keepalive(self) -> None:
        """Permanent low-latency reader on the monitor, so that the idle null sink does
        not render ~2 s ahead (which would delay every new stream by 1-2 s)."""
        cmd = [
            *_pdeathsig_prefix(),
            "parec",
            "--latency-msec=10",
            "-d",
            self.monitor,
            "--raw",
            "--client-name=voiceguide-test-keepalive",
        ]
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._children.append(proc)
        self._wait_for_source_output(proc, what="keep-alive recorder")
        # Suspend/resume once so the sink re-plans its (now short) latency.
        self.pactl("suspend-sink", self.sink, "1")
        self.pactl("suspend-sink", self.sink, "0")

    def _shutdown(self) -> None:
        for child in reversed(self._children):
            _stop_process(child)
        self._children.clear()
        _stop_process(self._daemon)


def _prepare_dirs(workdir: Path) -> tuple[Path, Path, Path | None]:
    """HOME and XDG_RUNTIME_DIR (mode 700); the latter moves to a short /tmp path if the
    socket path would not fit in sun_path. Returns (home, runtime, dir_to_remove)."""
    home = workdir / "home"
    (home / ".config" / "pulse").mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text(_ASOUNDRC)
    (home / ".config" / "pulse" / "client.conf").write_text("autospawn = no\n")
    runtime = workdir / "run"
    extra: Path | None = None
    if len(str(runtime / "pulse" / "native")) > _SOCKET_PATH_MAX:
        extra = Path(tempfile.mkdtemp(prefix="vgpa-", dir="/tmp"))
        runtime = extra
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    return home, runtime, extra


@contextlib.contextmanager
def virtual_device(
    *,
    rate: int = SAMPLE_RATE,
    sink: str = SINK_NAME,
    workdir: Path | None = None,
    low_latency: bool = True,
    startup_timeout: float = 10.0,
) -> Iterator[VirtualDevice]:
    """Start a private PulseAudio daemon with a null sink; yield a VirtualDevice.

    ``workdir`` (kept afterwards) holds HOME, the runtime dir, logs and recordings;
    without it a temporary directory is used and removed.  ``low_latency=False`` skips
    the keep-alive recorder (only useful to measure why it is there).
    Raises DeviceUnavailable if the PulseAudio tools are missing, DeviceError if the
    daemon does not come up.
    """
    missing = missing_tools()
    if missing:
        raise DeviceUnavailable(f"PulseAudio tools not found on PATH: {', '.join(missing)}")

    own_workdir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="vg-audio-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    extra_dir: Path | None = None
    device: VirtualDevice | None = None
    daemon: subprocess.Popen[bytes] | None = None
    try:
        home, runtime, extra_dir = _prepare_dirs(root)
        server = f"unix:{runtime / 'pulse' / 'native'}"
        overrides = {
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "PULSE_SERVER": server,
            "PULSE_SINK": sink,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update(overrides)

        log_path = root / "pulseaudio.log"
        cmd: Sequence[str] = [
            *_pdeathsig_prefix(),
            "pulseaudio",
            "--daemonize=no",  # our own child: PID known, exit status observable
            "--system=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=no",
            "--realtime=no",
            "--high-priority=no",
            "--log-target=stderr",
            "-n",
            "--load=module-native-protocol-unix auth-anonymous=1",
            f"--load=module-null-sink sink_name={sink} rate={rate} channels={CHANNELS} "
            "format=s16le",
        ]
        started = time.monotonic()
        with open(log_path, "wb") as log_file:
            daemon = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches only pytest
            )
        device = VirtualDevice(
            root=root,
            rate=rate,
            sink=sink,
            server=server,
            env=env,
            env_overrides=overrides,
            startup_seconds=0.0,
            log_path=log_path,
            _daemon=daemon,
        )
        deadline = started + startup_timeout
        while device._run_pactl("info").returncode != 0:
            if daemon.poll() is not None:
                raise DeviceError(
                    f"pulseaudio exited with status {daemon.returncode}:\n{device.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise DeviceError(
                    f"pulseaudio not ready after {startup_timeout} s:\n{device.log_tail()}"
                )
            time.sleep(0.02)
        device.startup_seconds = time.monotonic() - started
        device.pactl("set-default-sink", sink)
        if low_latency:
            device._spawn_keepalive()
        yield device
    finally:
        if device is not None:
            device._shutdown()
        elif daemon is not None:
            _stop_process(daemon)
        if extra_dir is not None:
            shutil.rmtree(extra_dir, ignore_errors=True)
        if own_workdir:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- analysis


def _mono(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Frames (1-D, or frames x channels) as one signal: the channels summed."""
    a = np.asarray(x, dtype=np.float64)
    return a.sum(axis=1) if a.ndim == 2 else a.ravel()


def _loudest(x: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Each frame's largest magnitude over its channels."""
    a = np.abs(np.asarray(x).astype(np.int32))
    return a.max(axis=1) if a.ndim == 2 else a.ravel()


def find_offset(recording: npt.ArrayLike, reference: npt.ArrayLike) -> int:
    """Sample index in ``recording`` where ``reference`` starts (FFT cross-correlation).

    Only full overlaps are considered, so len(recording) >= len(reference) is required.
    O(n log n): a few minutes of 24 kHz audio take well under a second.
    """
    rec, ref = _mono(recording), _mono(reference)
    if ref.size == 0 or rec.size < ref.size:
        raise ValueError(f"reference ({ref.size}) must be non-empty and fit in ({rec.size})")
    n = 1 << int(rec.size + ref.size - 1).bit_length()
    spectrum = np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n))
    corr = np.fft.irfft(spectrum, n)[: rec.size - ref.size + 1]
    return int(np.argmax(corr))


def locate(
    recording: npt.ArrayLike, expected: int, piece: npt.ArrayLike, search: int = 960
) -> tuple[int, float]:
    """Where, within ``search`` samples of ``expected``, ``piece`` was heard in ``recording``:
    (samples from ``expected``, normalized similarity 0..1 there)."""
    ref, rec = _mono(piece), _mono(recording)
    lo = max(0, expected - search)
    window = rec[lo : expected + ref.size + search]
    if window.size < ref.size or not ref.any():
        return 0, 0.0
    scores = np.correlate(window, ref, mode="valid")
    energy = np.convolve(window**2, np.ones(ref.size), mode="valid")
    similarity = scores / np.maximum(np.sqrt(energy) * np.linalg.norm(ref), 1e-9)
    best = int(np.argmax(similarity))
    return lo + best - expected, float(similarity[best])


def first_sound(recording: npt.ArrayLike, threshold: int = 1) -> int:
    """Index of the first sample whose magnitude is >= threshold (int16 units).

    Raises ValueError if there is none.
    """
    mags = _loudest(recording)
    hits = np.flatnonzero(mags >= threshold)
    if hits.size == 0:
        raise ValueError(f"no sample reaches {threshold}")
    return int(hits[0])


def onsets(recording: npt.ArrayLike, threshold: int = 1, min_gap: int = 480) -> list[int]:
    """Start indices of sounds separated by at least ``min_gap`` quiet samples."""
    mags = _loudest(recording)
    loud = np.flatnonzero(mags >= threshold)
    if loud.size == 0:
        return []
    starts = [int(loud[0])]
    gaps = np.flatnonzero(np.diff(loud) > min_gap)
    starts.extend(int(loud[i + 1]) for i in gaps)
    return starts


# --------------------------------------------------------------------------- fixture


@pytest.fixture(scope="session")
def audio_device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualDevice]:
    """Session-wide virtual device. Skips if PulseAudio is missing, unless CI=true,
    in which case it fails: CI must never silently skip the real-device tests."""
    missing = missing_tools()
    if missing:
        message = f"virtual audio device unavailable, missing: {', '.join(missing)}"
        if running_under_ci():
            pytest.fail(f"{message} (CI=true: refusing to skip)", pytrace=False)
        pytest.skip(message)
    with virtual_device(workdir=tmp_path_factory.mktemp("audio-device")) as device:
        yield device
