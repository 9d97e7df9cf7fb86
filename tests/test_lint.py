"""Silent mistakes made loud: each lint with a file that triggers it and one that does not;
every unknown name answered with the valid ones; `voiceguide sounds`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

from voiceguide import sounds
from voiceguide.ambience import BEDS
from voiceguide.clip import SAMPLE_RATE
from voiceguide.config import config_path

from .audio_device import VirtualDevice
from .conftest import decode

USE = 'title = "t"\n[[technique]]\n'


def inline(steps: str, extra: str = "") -> str:
    return f'{USE}title = "Neck"\n{extra}steps = [{steps}]\n'


def warnings(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in result.err.splitlines() if line.startswith("warning: ")]


@pytest.mark.parametrize("command", ["check", "show"])
def test_an_unknown_placeholder_is_warned_with_the_closest(run, routine_file, command) -> None:
    bad = routine_file(
        inline('{ say = "Turn to the {sied}." }', 'sides = ["right", "left"]\n'), "bad.toml"
    )
    good = routine_file(
        inline('{ say = "Turn to the {side}." }', 'sides = ["right", "left"]\n'), "good.toml"
    )
    extra = ["--estimate"] if command == "show" else []
    result = run(command, str(bad), *extra)
    assert result.status == 0
    assert warnings(result) == [
        "warning: bad.toml: technique 1, step 1: {sied} is not a placeholder and would be "
        "spoken as written (did you mean {side}?); the only placeholder is {side}"
    ]
    assert warnings(run(command, str(good), *extra)) == []


def test_an_unknown_side_is_warned_with_the_closest(run, routine_file) -> None:
    bad = routine_file(f'{USE}use = "seated-thoracic-twist"\nsides = ["rigth"]\n', "bad.toml")
    good = routine_file(f'{USE}use = "seated-thoracic-twist"\nsides = ["right"]\n', "good.toml")
    (line,) = warnings(run("check", str(bad)))
    assert line.startswith(
        "warning: bad.toml: technique 1 (seated-thoracic-twist), sides: 'rigth' is not a side "
        "name we know, and would be spoken as 'the rigth side' (did you mean 'right'?)"
    )
    assert "known sides: right, left, front, back" in line
    assert warnings(run("check", str(good))) == []


def test_a_hold_cue_longer_than_its_hold_at_the_rate(run, routine_file) -> None:
    """Fits at the default rate, not at 80: `check --rate 80` says so, `check` does not."""
    path = routine_file(
        inline('{ hold = 6, say = "Let your shoulder blades spread apart, and keep it gentle." }')
    )
    assert warnings(run("check", str(path))) == []
    (line,) = warnings(run("check", str(path), "--rate", "80"))
    assert line.startswith(
        "warning: routine.toml: technique 1: the hold cue "
        "'Let your shoulder blades spread apart...'"
    )
    assert "past the end of its 6 s hold after the bell; it is said before the bell instead" in line
    fast = routine_file(inline('{ hold = 6, say = "Let go." }'), "fast.toml")
    assert warnings(run("check", str(fast), "--rate", "80")) == []


def test_the_routines_own_rate_is_the_one_checked(run, routine_file) -> None:
    cue = '{ hold = 6, say = "Let your shoulder blades spread apart, and keep it gentle." }'
    slow = routine_file(f'title = "t"\nrate = 80\n[[technique]]\ntitle = "x"\nsteps = [{cue}]\n')
    assert len(warnings(run("check", str(slow)))) == 1
    assert warnings(run("check", str(slow), "--rate", "150")) == [], "--rate wins"


def test_two_in_breaths_in_a_row_across_reps(run, routine_file) -> None:
    steps = (
        '{ breathe = "in", seconds = 4, say = "Breathe in." }, '
        '{ breathe = "out", seconds = 4, say = "Breathe out." }, '
        '{ breathe = "in", seconds = 4, say = "Breathe in, and sit up." }'
    )
    bad = routine_file(inline(steps, "reps = 2\n"), "bad.toml")
    (line,) = warnings(run("check", str(bad)))
    assert line == (
        "warning: bad.toml: technique 1: two in-breaths in a row, 'Breathe in, and sit up.' "
        "then 'Breathe in.'; let in and out take turns"
    )
    good = routine_file(inline(steps, "reps = 1\n"), "good.toml")
    assert warnings(run("check", str(good))) == []


def test_two_out_breaths_in_a_row_across_sides(run, routine_file) -> None:
    steps = '{ say = "Turn {side}." }, { breathe = "out", seconds = 4, say = "Breathe out." }'
    bad = routine_file(inline(steps, 'sides = ["right", "left"]\n'), "bad.toml")
    assert "two out-breaths in a row" in warnings(run("check", str(bad)))[0]
    held = routine_file(
        inline(steps + ', { breathe = "hold", seconds = 2 }', 'sides = ["right"]\n'), "ok.toml"
    )
    assert warnings(run("check", str(held))) == []


def test_an_unknown_config_key_is_warned_with_the_closest(run) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("volme = 0.5\n")
    assert len(warnings(run("list"))) == 1, "once, however many routines are read"
    config_path().write_text('voise = "en-gb"\nrate = 140\n')
    result = run("check", "self-hug")
    assert result.status == 0
    assert warnings(result) == [
        f"warning: {config_path()}: voise: unknown setting, ignored (did you mean 'voice'?); "
        "settings: rate, voice, volume, engine, pace, detail, screened, screened_on, "
        "cache_limit_mb, ambience, ambience_level, loudness, mono, listen, mic, serve_token"
    ]
    config_path().write_text('voice = "en-us"\nrate = 140\nscreened = true\n')
    assert warnings(run("check", "self-hug")) == []


def test_check_takes_a_rate(run) -> None:
    slow, fast = run("check", "desk-break", "--rate", "120"), run("check", "desk-break")
    assert slow.status == fast.status == 0
    assert slow.out != fast.out, "the length is the one at that rate"
    assert run("check", "desk-break", "--rate", "20").status == 2


def test_an_unknown_sound_lists_all_eight(run, routine_file) -> None:
    path = routine_file(inline('{ chime = "bell" }'))
    result = run("check", str(path))
    assert result.status == 2
    assert result.err == (
        "error: routine.toml: technique 1, step 1, chime: must name a sound or a .wav file in "
        "the routine's folder, got 'bell'; sounds: " + ", ".join(sounds.NAMES) + " (see "
        "'voiceguide sounds')\n"
    )


def test_an_unknown_technique_suggests_the_one_containing_it(run, routine_file) -> None:
    result = run("check", str(routine_file(f'{USE}use = "twist"\n')))
    assert result.status == 2
    assert "no technique 'twist' (did you mean 'seated-thoracic-twist'?)" in result.err
    assert "techniques: ball-release, chair-back-extension, foam-roller," in result.err


def test_an_unknown_routine_lists_routines_and_techniques(run) -> None:
    result = run("show", "desk", "--estimate")
    assert result.status == 2
    assert result.err.startswith("error: no routine or technique 'desk' (did you mean ")
    assert "'desk-break'" in result.err and "self-hug" in result.err
    assert result.err.count("\n") == 1


def test_many_names_list_only_the_closest_and_where_to_see_all() -> None:
    from voiceguide.names import valid

    names = [f"voice-{i}" for i in range(40)]
    said = valid("voice-7x", names, "voices", "voiceguide voices")
    assert said.startswith(" (did you mean 'voice-7'")
    assert said.endswith("; see 'voiceguide voices' for all 40 voices")
    assert "voice-30" not in said


def test_sounds_lists_every_sound_with_its_meaning(run) -> None:
    result = run("sounds")
    assert result.status == 0
    chimes, beds = result.out.split("\n\n")
    lines = chimes.splitlines()
    assert [line.split()[0] for line in lines] == list(sounds.NAMES)
    assert "switch-side" in lines[3] and "change sides" in lines[3]
    assert beds.splitlines()[0].startswith("Beds (--ambience NAME")
    assert [line.split()[0] for line in beds.splitlines()[1:]] == list(BEDS)


def test_sounds_previews_a_bed(run, tmp_path) -> None:
    """Ten seconds of the bed at its level under a routine, faded in and out."""
    out = tmp_path / "drone.flac"
    result = run("sounds", "drone", "-o", str(out))
    assert result.status == 0, result.err
    heard = decode(out)[:, 0].astype(float)
    assert len(heard) == 10 * SAMPLE_RATE
    assert abs(heard[0]) <= 1 and abs(heard[-1]) <= 1
    middle = np.sqrt(np.mean(heard[4 * SAMPLE_RATE : 6 * SAMPLE_RATE] ** 2))
    assert 100 < middle < 3000  # there, and far below the voice's level
    assert run("sounds", "dron").err.startswith("error: no sound 'dron' (did you mean 'drone'")


def test_an_unknown_sound_name_on_the_command_line(run) -> None:
    result = run("sounds", "hold-ned", "--play")
    assert result.status == 2
    assert result.err.startswith("error: no sound 'hold-ned' (did you mean 'hold-end'")


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_sounds_exports_one(run, tmp_path, suffix: str) -> None:
    out = tmp_path / f"bell{suffix}"
    result = run("sounds", "hold-start", "-o", str(out))
    assert result.status == 0, result.err
    heard = decode(out)[:, 0]
    shipped = np.frombuffer(sounds.load("hold-start").pcm, dtype="<i2")
    assert abs(len(heard) - len(shipped)) < SAMPLE_RATE // 5  # mp3 pads its frames
    if suffix == ".wav":
        assert np.array_equal(heard, shipped)
    assert run("sounds", "hold-start", "-o", str(tmp_path / "x.aiff")).status == 2


def test_sounds_refuses_a_read_only_file_unless_forced(run, tmp_path) -> None:
    """As export does: the file is left as it was, and --force replaces it (still read-only)."""
    out = tmp_path / "bell.wav"
    out.write_bytes(b"a file I protected")
    out.chmod(0o444)
    result = run("sounds", "hold-start", "-o", str(out))
    assert result.status == 2
    assert result.err == (
        f"error: {out}: the file is read-only; to replace it anyway (it stays read-only), "
        "use --force\n"
    )
    assert out.read_bytes() == b"a file I protected"
    assert os.listdir(tmp_path) == ["bell.wav"], "no temporary file left"
    result = run("sounds", "hold-start", "-o", str(out), "--force")
    assert result.status == 0, result.err
    assert np.array_equal(decode(out)[:, 0], np.frombuffer(sounds.load("hold-start").pcm, "<i2"))
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    assert os.listdir(tmp_path) == ["bell.wav"]
    result = run("sounds", "hold-start", "--force")
    assert result.status == 2 and result.err.startswith("error: --force: ")
    assert "-o FILE" in result.err


@pytest.mark.parametrize("force", [False, True], ids=["", "forced"])
@pytest.mark.parametrize("kind", ["shipped", "link to a chime", "link to a bed", "link to config"])
def test_sounds_never_writes_over_the_programs_own_inputs(
    run, tmp_path, monkeypatch, kind, force
) -> None:
    """A shipped sound (a copy: a failure must not damage the checkout) or the config, named
    directly or through a link, with or without --force: one line, and nothing written."""
    shipped = tmp_path / "sounds"
    shutil.copytree(sounds.sound_dir(), shipped)
    monkeypatch.setattr(sounds, "sound_dir", lambda: shipped)
    config = config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("rate = 140\n")
    chime, bed = shipped / "hold-end.wav", shipped / "beds" / "drone.wav"
    source = {"link to a chime": chime, "link to a bed": bed, "link to config": config}
    out = chime if kind == "shipped" else tmp_path / "out.wav"
    if kind != "shipped":
        out.symlink_to(source[kind])
    inputs = [chime, bed, config]
    before = [p.read_bytes() for p in inputs]
    names = sorted(map(str, tmp_path.rglob("*")))
    result = run("sounds", "routine-end", "-o", str(out), *(["--force"] if force else []))
    assert result.status == 2
    assert result.err.startswith(f"error: {out}: is one of the export's own inputs (")
    assert result.err.endswith("); write the export to another file\n")
    assert result.err.count("\n") == 1 and result.out == ""
    assert [p.read_bytes() for p in inputs] == before
    assert sorted(map(str, tmp_path.rglob("*"))) == names, "no temporary file left"


@pytest.mark.device
def test_sounds_plays_one_on_the_device(audio_device: VirtualDevice) -> None:
    env = dict(audio_device.env, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    with audio_device.record("sound") as recorder:
        done = subprocess.run(
            [sys.executable, "-m", "voiceguide", "sounds", "routine-end", "--play"],
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    heard = recorder.samples()
    assert np.abs(heard.astype(np.int32)).max() > 1000, "the chime reached the device"


def test_play_prints_the_warnings_before_it_starts(run, routine_file, monkeypatch) -> None:
    import contextlib
    from collections.abc import Iterator

    from voiceguide import api

    class Player:
        quitting = False
        quiet = None  # not listening

        def __init__(self) -> None:
            self.on_control: list[object] = []

        def run(self, *_: object) -> None:
            pass

    @contextlib.contextmanager
    def playing(routine: str, *_: object, **__: object) -> Iterator[Player]:
        yield Player()

    monkeypatch.setattr(api, "playing", playing)
    bad = routine_file(inline('{ say = "Turn to the {sied}." }', 'sides = ["right"]\n'))
    result = run("play", str(bad), "--yes")
    assert result.status == 0, result.err
    assert warnings(result) == [
        "warning: routine.toml: technique 1, step 1: {sied} is not a placeholder and would be "
        "spoken as written (did you mean {side}?); the only placeholder is {side}"
    ]


def test_an_unknown_engine_in_a_routine_says_what_was_found_once(run, routine_file) -> None:
    path = routine_file('title = "T"\nengine = "nope"\n[[technique]]\nuse = "self-hug"\n')
    result = run("check", str(path))
    assert result.status == 2
    assert "must be one of natural, espeak, system, got 'nope'" in result.err
