from pathlib import Path

import pytest

from voiceguide.catalog import builtin_routines, builtin_techniques, load_routine, read_routine
from voiceguide.errors import RoutineError, UsageError
from voiceguide.language import Breathe, Chime, Hold, Rest, Say

from .conftest import ROUTINES


def test_the_documented_example_reads_as_written() -> None:
    routine = read_routine(ROUTINES / "evening.toml")
    assert routine.title == "Evening unwind"
    assert routine.rate == 140
    assert routine.transition_ms == 4000
    hug, neck = routine.techniques
    assert hug.id == "self-hug" and hug.reps == 2
    assert neck.sides == ("right", "left")
    assert neck.steps == (
        Say("Tilt your head gently toward your {side} shoulder."),
        Hold(12_000, "Hold, and keep breathing."),
        Breathe("out", 5000, "Let the shoulder drop as you breathe out."),
        Breathe("in", 5000, "Breathe in, and bring your head back to the middle."),
    )


def test_the_built_ins_are_the_five_techniques_and_three_routines() -> None:
    assert set(builtin_techniques()) == {
        "seated-thoracic-twist",
        "chair-back-extension",
        "self-hug",
        "foam-roller",
        "ball-release",
    }
    assert set(builtin_routines()) == {"upper-back", "desk-break", "floor"}
    ids = {name: [t.id for t in load_routine(name).techniques] for name in builtin_routines()}
    assert sorted(ids["upper-back"]) == sorted(builtin_techniques())
    assert sorted(ids["desk-break"]) == [
        "chair-back-extension",
        "seated-thoracic-twist",
        "self-hug",
    ]
    desk = load_routine("desk-break").techniques
    assert {t.posture for t in desk} == {"chair"} and all("chair" in t.equipment[0] for t in desk)
    assert sorted(ids["floor"]) == ["ball-release", "foam-roller"]


def test_built_ins_carry_the_guides_facts() -> None:
    t = builtin_techniques()
    assert t["seated-thoracic-twist"].sides == ("right", "left")
    hug = t["self-hug"]
    assert any(
        isinstance(s, Breathe) and s.direction == "out" and s.text and "elbows together" in s.text
        for s in hug.steps
    )
    roller_holds = [s.ms for s in t["foam-roller"].steps if isinstance(s, Hold)]
    assert any(20_000 <= ms <= 30_000 for ms in roller_holds)
    roller_text = " ".join(getattr(s, "text", "") or "" for s in t["foam-roller"].steps)
    assert "left" in roller_text and "right" in roller_text
    ball = t["ball-release"]
    assert "never on" in (ball.safety or "") and "wall" in (ball.position or "")
    assert any("arm" in (getattr(s, "text", "") or "") for s in ball.steps)


def test_use_overrides_replace_reps_sides_and_every_hold(routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\nuse = "foam-roller"\nreps = 1\nhold = 7.5\nsides = ["left"]\n'
    )
    roller = read_routine(path).techniques[0]
    assert roller.reps == 1 and roller.sides == ("left",)
    assert {s.ms for s in roller.steps if isinstance(s, Hold)} == {7500}
    assert any(isinstance(s, Rest) for s in roller.steps)


def test_every_step_kind(routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\ntitle = "x"\nequipment = "mat"\nsteps = [\n'
        ' { say = "a" }, { breathe = "hold", seconds = 2 }, { hold = 600 }, { rest = 0.5 },\n'
        ' { chime = "hold-end" },\n]\n'
    )
    t = read_routine(path).techniques[0]
    assert t.equipment == ("mat",)
    assert t.steps == (Say("a"), Breathe("hold", 2000), Hold(600_000), Rest(500), Chime("hold-end"))


def test_whitespace_in_cues_is_folded(routine_file) -> None:
    path = routine_file(
        'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "a\\n\\tb  c" }]\n'
    )
    assert read_routine(path).techniques[0].steps == (Say("a b c"),)


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("rate", "60", "59"),
        ("rate", "400", "401"),
        ("transition", "0", "-0.001"),
        ("transition", "600", "600.001"),
    ],
)
def test_routine_limits_at_and_past_the_edge(routine_file, field: str, good: str, bad: str) -> None:
    body = '\n[[technique]]\nuse = "self-hug"\n'
    read_routine(routine_file(f'title = "t"\n{field} = {good}{body}'))
    with pytest.raises(RoutineError, match=field):
        read_routine(routine_file(f'title = "t"\n{field} = {bad}{body}'))


@pytest.mark.parametrize(
    ("step", "good", "bad"),
    [
        ("hold = {}", "600", "600.5"),
        ("hold = {}", "0.001", "0"),
        ("rest = {}", "600", "601"),
        ('breathe = "in", seconds = {}', "600", "700"),
        ('breathe = "in", seconds = {}', "0.001", "-1"),
        ('say = "{}"', "x" * 1000, "x" * 1001),
    ],
)
def test_step_limits_at_and_past_the_edge(routine_file, step: str, good: str, bad: str) -> None:
    def routine(value: str) -> Path:
        return routine_file(
            f'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{{ {step.format(value)} }}]\n'
        )

    read_routine(routine(good))
    with pytest.raises(RoutineError, match="step 1"):
        read_routine(routine(bad))


@pytest.mark.parametrize(("good", "bad"), [(1, 0), (50, 51)])
def test_reps_limits(routine_file, good: int, bad: int) -> None:
    read_routine(routine_file(f'title = "t"\n[[technique]]\nuse = "self-hug"\nreps = {good}\n'))
    with pytest.raises(RoutineError, match="reps"):
        read_routine(routine_file(f'title = "t"\n[[technique]]\nuse = "self-hug"\nreps = {bad}\n'))


def test_every_problem_is_reported_not_just_the_first(routine_file) -> None:
    path = routine_file(
        'rate = 999\n[[technique]]\nuse = "nope"\n[[technique]]\ntitle = "x"\n'
        'steps = [{ hold = -1 }, { rest = 1, chime = "hold-end" }]\n'
    )
    with pytest.raises(RoutineError) as info:
        read_routine(path)
    places = [p.place for p in info.value.problems]
    assert places == [
        "",
        "rate",
        "technique 1, use",
        "technique 2, step 1, hold",
        "technique 2, step 2",
    ]


def test_a_routine_argument_is_a_name_or_a_path() -> None:
    assert load_routine("desk-break").title == "Desk break"
    assert load_routine(str(ROUTINES / "evening.toml")).title == "Evening unwind"
    with pytest.raises(UsageError, match="did you mean 'desk-break'"):
        load_routine("desk-brake")


def _wav(path: Path, channels: int = 1, rate: int = 44100, seconds: float = 0.3) -> Path:
    import wave

    import numpy as np

    t = np.arange(int(rate * seconds)) / rate
    tone = (np.sin(2 * np.pi * 660 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(tone, channels).tobytes())
    return path


def _chime_routine(routine_file, sound: str) -> Path:
    return routine_file(
        f'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{{ chime = "{sound}" }}]\n'
    )


def test_a_routine_may_bring_its_own_wav_from_its_folder(routine_file, tmp_path: Path) -> None:
    from voiceguide import sounds
    from voiceguide.clip import SAMPLE_RATE
    from voiceguide.compiler import compile_routine

    (tmp_path / "mine").mkdir()
    _wav(tmp_path / "mine" / "gong.wav", channels=2, rate=44100)
    routine = read_routine(_chime_routine(routine_file, "mine/gong.wav"))
    (step,) = routine.techniques[0].steps
    assert isinstance(step, Chime) and step.sound == str(tmp_path / "mine" / "gong.wav")
    clip = sounds.load(step.sound)
    assert clip.sample_rate == SAMPLE_RATE and abs(clip.duration_ms - 300) <= 1
    timeline = compile_routine(routine, lambda text: 500)
    assert any(
        e.kind == "chime" and e.name == step.sound and e.duration == clip.duration_ms
        for e in timeline.events
    )


@pytest.mark.parametrize(
    ("sound", "message"),
    [
        ("../outside.wav", "must be a file inside the routine's folder"),
        ("/etc/outside.wav", "must be a file inside the routine's folder"),
        ("escape.wav", "must be a file inside the routine's folder"),  # a link leading out
        ("missing.wav", "is not a sound we can play: No such file or directory"),
        ("text.wav", "is not a sound we can play: not a WAV file"),
        ("quad.wav", "is not a sound we can play: expected mono or stereo, got 4 channels"),
        ("cut.wav", "is not a sound we can play: truncated"),
    ],
)
def test_own_sounds_outside_the_folder_or_not_audio_are_refused(
    routine_file, tmp_path: Path, sound: str, message: str
) -> None:
    import wave

    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir(exist_ok=True)
    _wav(outside / "outside.wav")
    (tmp_path / "escape.wav").symlink_to(outside / "outside.wav")
    (tmp_path / "text.wav").write_text("not audio at all")
    whole = _wav(tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    with wave.open(str(tmp_path / "quad.wav"), "wb") as w:
        w.setnchannels(4)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(6400))
    with pytest.raises(RoutineError, match="technique 1, step 1, chime: ") as info:
        read_routine(_chime_routine(routine_file, sound))
    assert message in str(info.value)
