"""The 3-hour limit applies to the estimated length, as `check` shows it: `check`, `export`
and `play` agree, and a routine refused is refused before anything is synthesized."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voiceguide.compiler import MAX_ROUTINE_MS

from .conftest import Result

HOLDS = 'steps = [{ say = "Hold." }, { hold = 600 }]'


def routine(holds: int, extra_s: int) -> str:
    """About `holds` ten-minute holds and one of `extra_s` seconds, in one technique."""
    return (
        'title = "Long"\n[[technique]]\ntitle = "Stay"\n'
        + f"reps = {holds}\n{HOLDS}\n"
        + f'[[technique]]\ntitle = "Last"\nsteps = [{{ hold = {extra_s} }}]\n'
    )


def clips(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*")) if cache.exists() else []


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_just_over_the_limit_check_and_export_refuse_alike_and_synthesize_nothing(
    run: Callable[..., Result], routine_file: Callable[[str], Path], cache: Path, tmp_path: Path
) -> None:
    path = routine_file(routine(17, 420))
    checked = run("check", str(path))
    assert checked.status == 2
    (line,) = checked.err.splitlines()
    assert "must compile to at most 3 hours" in line and line.startswith(f"error: {path.name}: ")
    before = clips(cache)
    exported = run("export", str(path), "-o", str(tmp_path / "long.flac"))
    assert (exported.status, exported.err) == (2, checked.err)
    shown = run("show", str(path))
    assert (shown.status, shown.err) == (2, checked.err)
    assert clips(cache) == before, "nothing synthesized, nothing cached"
    assert not (tmp_path / "long.flac").exists()


def test_just_under_the_limit_check_says_ok_and_the_estimate_is_what_counts(
    run: Callable[..., Result], routine_file: Callable[[str], Path]
) -> None:
    from voiceguide import api

    path = routine_file(routine(17, 390))
    estimated = api.compile(str(path), estimate_only=True).duration
    assert MAX_ROUTINE_MS - 60_000 < estimated <= MAX_ROUTINE_MS
    checked = run("check", str(path))
    assert checked.status == 0 and ": ok, " in checked.out
    timeline = api.compile(str(path))  # real clip lengths: accepted, whatever they add up to
    assert timeline.duration > MAX_ROUTINE_MS - 300_000
