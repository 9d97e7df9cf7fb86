"""What every measurement shares: result rows, timed child processes, interleaved sampling.

Every measurement is a whole process (that is what a user waits for), timed from spawn to
exit, with its peak memory from `wait4`. The machine is shared and noisy, so variants that are
compared run interleaved, round by round, and targets are ratios of medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from voiceguide.speech.natural import PRIVATE

ROOT = Path(__file__).resolve().parents[2]
os.environ.update(PRIVATE)  # hibari alone, the natural voice's floor, runs onnxruntime too
PYTHON = str(ROOT / ".venv" / "bin" / "python")
VOICEGUIDE = [PYTHON, "-m", "voiceguide"]
"""Run from ROOT, so `-m` finds the source tree before the copy installed in .venv: the
benchmark measures the code being edited."""


class BenchError(Exception):
    """A measured command failed: its numbers would be meaningless."""


@dataclass(slots=True)
class Row:
    """One line of the table and of the JSON; `met` is None for a figure with no target."""

    section: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    runs: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    max_rss_mb: float
    """Peak resident memory of the process or of its largest waited-for descendant."""


@dataclass(slots=True)
class Context:
    """Settings shared by the sections: how many runs, and where scratch files go."""

    quick: bool
    scratch: Path
    log: Callable[[str], None]
    long: bool = False
    """Play all of upper-back for the timing accuracy (15 minutes of real time)."""
    _serial: int = 0

    def rounds(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def tempdir(self, prefix: str) -> Path:
        """A fresh folder under the benchmark's scratch folder (removed at the end)."""
        self._serial += 1
        path = self.scratch / f"{prefix}-{self._serial}"
        path.mkdir()
        return path

    def env(self, cache: Path) -> dict[str, str]:
        """The child's environment: its own clip cache, and an empty config folder so the
        user's config.toml cannot change the voice or rate being measured."""
        config = self.scratch / "config"
        config.mkdir(exist_ok=True)
        env = dict(os.environ, XDG_CACHE_HOME=str(cache), XDG_CONFIG_HOME=str(config))
        env.pop("PYTHONPATH", None)
        # the source tree's bytecode is cached, as an installed package's is (pip compiles it)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env


def run(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run `cmd` from ROOT with no terminal (so no progress bar); raise BenchError if it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
            raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return Run(seconds, usage.ru_maxrss / 1024)


def sample(variants: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Run every variant once per round, in turn, after one discarded warm-up round: drift in
    the machine's load then hits all variants alike, and ratios stay fair."""
    results: dict[str, list[Run]] = {name: [] for name in variants}
    for i in range(rounds + 1):
        for name, measure in variants.items():
            outcome = measure()
            if i > 0:
                results[name].append(outcome)
    return results


def median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def seconds(runs: list[Run]) -> list[float]:
    return [round(r.seconds, 4) for r in runs]


@contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as name:
        yield Path(name)


def stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Output -----------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def table(rows: list[Row]) -> str:
    """Rows grouped by section, each with its target and whether it is met."""
    lines: list[str] = []
    width = max((len(r.name) for r in rows), default=10)
    sections = list(dict.fromkeys(r.section for r in rows))
    for section in sorted(sections, key=lambda s: s.split(".")[0].zfill(3)):
        lines.append(f"\n{section}")
        for r in (r for r in rows if r.section == section):
            met = "-" if r.met is None else "yes" if r.met else "NO"
            value = f"{_number(r.value)} {r.unit}"
            note = f"  ({r.note})" if r.note else ""
            lines.append(f"  {r.name:<{width}}  {value:>13}  {met:<3}  {r.target}{note}")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    judged = [r for r in rows if r.met is not None]
    met = sum(1 for r in judged if r.met)
    missed = "; ".join(r.name for r in judged if not r.met)
    return f"{met} of {len(judged)} targets met" + (f"; missed: {missed}" if missed else "")
