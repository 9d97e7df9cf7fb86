"""Bad input, fuzzed: whatever bytes a routine file holds, `check`, `show --estimate` and the
compiler answer with a result or the project's own error (exit 2, every stderr line
"error: FILE: ..."), never a traceback, a hang or a memory blow-up. Then every limit of the
language at and just past its edge.

VOICEGUIDE_FUZZ_EXAMPLES is how many examples the property tests run in all (default 300,
a few seconds); `scripts/fuzz` runs tens of thousands and prints how many ran.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import resource
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from voiceguide import api, sounds
from voiceguide.catalog import builtin_routines, builtin_techniques, read_routine
from voiceguide.compiler import MAX_ROUTINE_MS, compile_routine, cue_texts
from voiceguide.errors import RoutineError
from voiceguide.estimate import estimate_ms
from voiceguide.language import MAX_FILE_BYTES, MAX_STEP_RUNS, Breathe, Hold, Rest, sayable

from .conftest import ROUTINES, exit_status

EXAMPLES = int(os.environ.get("VOICEGUIDE_FUZZ_EXAMPLES", "300"))
"""Examples for all the property tests together, shared out by `budget`."""
RAN: Counter[str] = Counter()
"""Examples each property test ran; written to $VOICEGUIDE_FUZZ_REPORT for scripts/fuzz."""
SLOW_SECONDS = 20.0
"""One command on one file taking this long is a hang (the slowest legal file takes < 1 s)."""
VOICES = ["en-us", "en", "heart", "de", "fr", "gmw/en-US", "English (America)"]
"""Real voices of the engines, so most fuzzed routines get past the voice to what follows."""
MEMORY_GROWTH_KB = 600_000
"""How much this process's peak memory may grow over the whole module (a blow-up is GBs)."""


def budget(share: float) -> settings:
    return settings(
        max_examples=max(1, round(EXAMPLES * share)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@pytest.fixture(scope="module", autouse=True)
def report_and_watch_memory() -> Iterator[None]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    report = os.environ.get("VOICEGUIDE_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(RAN)), encoding="utf-8")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < MEMORY_GROWTH_KB, f"peak memory grew by {grown} kB while fuzzing"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- Running the CLI ------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    """`voiceguide ARGS` in this process: (exit status, stdout, stderr). No fixtures, so it can
    run once per Hypothesis example."""
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = exit_status(*args)
    seconds = time.monotonic() - started
    assert seconds < SLOW_SECONDS, f"voiceguide {' '.join(args)[:80]} took {seconds:.1f} s"
    return status, out.getvalue(), err.getvalue()


def assert_clean(path: Path, status: int, out: str, err: str) -> None:
    """A result, or the project's own error: exit 2, every line "error: FILE: ..."."""
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = err.splitlines()
    if status == 0:
        assert all(line.startswith("warning: ") for line in lines), lines
        return
    assert status == 2, (status, err)
    assert out == ""
    assert lines, "an error with no message"
    assert all(line.startswith(f"error: {path.name}") for line in lines), lines
    assert all(len(line) < 1000 for line in lines), max(lines, key=len)  # no huge echoes


def check_and_show(path: Path, data: bytes) -> int:
    """Feed `data` to check and show --estimate; they must agree. Returns the exit status."""
    path.write_bytes(data)
    checked = cli("check", str(path))
    err = checked[2].splitlines()[0] if checked[2] else ""
    assert_clean(path, *checked)
    shown = cli("show", str(path), "--estimate")
    assert_clean(path, *shown)
    assert checked[0] == shown[0], (checked, shown)
    if currently_in_test_context():  # for --hypothesis-show-statistics: how deep files get
        event(f"exit {checked[0]}" + (f": {err.split(': ', 2)[-1][:40]}" if checked[0] else ""))
    if checked[0] == 0:
        assert re.fullmatch(rf"{re.escape(str(path))}: ok, ~\d+:\d\d\n", checked[1]), checked[1]
    assert checked[2] == shown[2]  # the same problems (or warnings), in the same words
    return checked[0]


# --- Writing TOML ---------------------------------------------------------------------------


class Raw(str):
    """Written into the file as it is: a literal Python cannot make (a 5000-digit number), or
    broken TOML."""


def toml_str(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")  # an escaped surrogate is invalid TOML: fine too
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_str(key)


def toml_value(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # nan, inf, -inf, 1e+16 are TOML as written
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, datetime | date | clock):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def toml_document(doc: dict[str, Any]) -> str:
    """A routine as a file: its keys, then each technique as a [[technique]] table."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if k != "technique"]
    techniques = doc.get("technique")
    if isinstance(techniques, list) and techniques and all(isinstance(t, dict) for t in techniques):
        for technique in techniques:
            lines += ["", "[[technique]]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in technique.items()]
    elif "technique" in doc:
        lines.insert(0, f"technique = {toml_value(techniques)}")
    return "\n".join(lines) + "\n"


# --- Strategies -----------------------------------------------------------------------------

PLAIN = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn"))
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
KILLERS = ("s'" * 220, "\x0180S", "\x01" + "80S" * 50, "[[a]]" * 100, "<speak>x</speak>")
"""espeak-ng's known killers (a stack smash; an embedded speed command), and markup."""


def text_of(limit: int) -> st.SearchStrategy[str]:
    """Text that passes the checks: no control characters, something to say, at most `limit`."""
    return st.one_of(
        st.text(PLAIN, min_size=1, max_size=min(limit, 60)).filter(sayable),
        st.sampled_from(["x" * limit, "word " * (limit // 5), "é" * limit]).map(str.strip),
    )


def any_text() -> st.SearchStrategy[str]:
    """Anything a string can hold: controls, unassigned code points, blank, huge, killers."""
    return st.one_of(
        st.text(ANY_CHAR, max_size=80),
        st.integers(0, len(KILLERS) - 1).map(KILLERS.__getitem__),
        st.sampled_from([" ", "\t\n", "{side}", "\u2028", "\ufeff", "\u00ad", "\U0010ffff"]),
        st.integers(0, 200_000).map(lambda n: "y" * n),
        st.sampled_from([41, 101, 1001, 5001]).map(lambda n: "z" * n),
    )


EDGE_NUMBERS = st.sampled_from(
    [0, -0.0, 0.0004, 0.0005, 0.0006, 0.001, 1, 4, 50, 51, 59, 60, 400, 401, 600, 600.0004,
     600.001, 601, -1, 10**18, -(2**63), 1e308, 5e-324, float("inf"), float("-inf"),
     float("nan")]
)  # fmt: skip
RAW = [
    Raw("9" * 5000),  # more digits than Python converts
    Raw("9" * 4000),
    Raw("1" + "0" * 400 + ".5"),
    Raw("+nan"),
    Raw("-nan"),
    Raw("0x7fffffffffffffff"),
    Raw("0b1"),
    Raw("1979-05-27T07:32:00-08:00"),
    Raw("07:32:00.999999"),
    Raw("'''multi\nline'''"),
    Raw('"""s\'\\ns\'"""'),
    Raw("[" * 3000 + "]" * 3000),  # deeper than Python's recursion limit
    Raw("[" * 200 + "1" + "]" * 200),  # deep but legal
    Raw("{ a = { b = { c = { d = 1 } } } }"),
    Raw("[1, 'two', 3.0, true]"),
    Raw('"\\u0001' + "80S" + '"'),
    Raw('"\\ud800"'),
    Raw("1__0"),
    Raw("inf"),
    Raw(""),
]
RAW_LITERALS = st.integers(0, len(RAW) - 1).map(RAW.__getitem__)
SCALARS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.times(),
    st.datetimes(),
    EDGE_NUMBERS,
    any_text(),
    RAW_LITERALS,
)
KEYS = st.one_of(
    st.sampled_from(
        ["title", "steps", "say", "hold", "rest", "use", "sides", "reps", "technique", "x", ""]
    ),
    st.text(ANY_CHAR, max_size=12),
)
WILD = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
"""Any TOML value at all."""


Pick = Callable[[st.SearchStrategy[Any]], Any]


def chooser(draw: st.DrawFn, wild: int) -> tuple[Pick, Callable[[], bool]]:
    """`pick(good)` draws from `good`, or `wild` percent of the time anything at all; `odd()`
    is true `wild` percent of the time (a key goes missing, or an unknown one turns up)."""

    def odd() -> bool:
        return wild > 0 and draw(st.integers(0, 99)) < wild

    def pick(good: st.SearchStrategy[Any]) -> Any:
        return draw(WILD) if odd() else draw(good)

    return pick, odd


SECONDS = st.one_of(st.integers(1, 600), st.floats(0.001, 600), st.sampled_from([0.001, 600]))
SIDES = st.lists(text_of(40), min_size=1, max_size=4, unique_by=lambda s: " ".join(s.split()))


@st.composite
def steps(draw: st.DrawFn, wild: int, with_side: bool) -> dict[str, Any]:
    pick, odd = chooser(draw, wild)
    say = text_of(200)
    if with_side:
        say = st.one_of(say, say.map(lambda s: s[:190] + " {side}"))
    kind = draw(st.sampled_from(["say", "breathe", "hold", "rest", "chime"]))
    step: dict[str, Any]
    if kind == "say":
        step = {"say": pick(say)}
    elif kind == "breathe":
        step = {"breathe": pick(st.sampled_from(["in", "out", "hold"]))}
        if not odd():
            step["seconds"] = pick(SECONDS)
    elif kind == "hold":
        step = {"hold": pick(SECONDS)}
    elif kind == "rest":
        step = {"rest": pick(SECONDS)}
    else:
        step = {"chime": pick(st.sampled_from(sorted(sounds.NAMES)))}
    if kind in ("breathe", "hold") and draw(st.booleans()):
        step["say"] = pick(say)
    if odd():
        step[draw(KEYS)] = draw(WILD)
    return step


@st.composite
def techniques(draw: st.DrawFn, wild: int) -> dict[str, Any]:
    pick, odd = chooser(draw, wild)
    technique: dict[str, Any]
    if draw(st.booleans()):
        technique = {"use": pick(st.sampled_from(sorted(builtin_techniques())))}
        optional = {"reps": st.integers(1, 50), "sides": SIDES, "hold": SECONDS}
    else:
        sides = draw(st.one_of(st.none(), SIDES))
        technique = {} if odd() else {"title": pick(text_of(1000))}
        if sides is not None:
            technique["sides"] = pick(st.just(sides))
        if not odd():
            technique["steps"] = pick(
                st.lists(steps(wild, sides is not None), min_size=1, max_size=6)
            )
        optional = {
            "reps": st.integers(1, 50),
            "position": text_of(1000),
            "equipment": st.one_of(text_of(100), st.lists(text_of(100), max_size=3)),
            "safety": text_of(1000),
            "summary": text_of(1000),
        }
    for key, value in optional.items():
        if draw(st.integers(0, 3)) == 0:
            technique[key] = pick(value)
    if odd():
        technique[draw(KEYS)] = draw(WILD)
    return technique


@st.composite
def routines(draw: st.DrawFn, wild: bool = False) -> dict[str, Any]:
    """A routine as a dict. Not `wild`: every value is valid (it may still run over 3 hours).
    `wild`: now and then a key goes missing or unknown, or a value is anything at all; how
    often varies, so some files are wrong in one deep place and some everywhere."""
    wildness = draw(st.sampled_from([1, 3, 10, 30])) if wild else 0
    pick, odd = chooser(draw, wildness)
    routine: dict[str, Any] = {}
    if not odd():
        routine["title"] = pick(text_of(1000))
    optional = {
        "summary": text_of(1000),
        "rate": st.integers(60, 400),
        "voice": st.one_of(st.sampled_from(VOICES), text_of(100)),
        "transition": st.one_of(st.just(0), SECONDS),
    }
    for key, value in optional.items():
        if draw(st.integers(0, 2)) == 0:
            routine[key] = pick(value)
    if odd():
        routine[draw(KEYS)] = draw(WILD)
    if not odd():
        routine["technique"] = pick(st.lists(techniques(wildness), min_size=1, max_size=3))
    return routine


SEEDS = [
    (ROUTINES / "evening.toml").read_bytes(),
    (ROUTINES / "short.toml").read_bytes(),
    *(p.read_bytes() for p in builtin_routines().values()),
    *(p.read_bytes() for p in sorted((ROUTINES.parent.parent / "voiceguide/library").glob("*/*"))),
]
TOKENS = [
    b"[",
    b"]",
    b"[[technique]]\n",
    b"{",
    b"}",
    b'"',
    b"'",
    b'"""',
    b"'''",
    b"=",
    b",",
    b"\n",
    b"#",
    b"\\",
    b"\\u0001",
    b"\\ud800",
    b"\\U0010FFFF",
    b"\x00",
    b"\x01",
    b"\r",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
    b"\xef\xbb\xbf",  # a byte-order mark
    b"nan",
    b"-inf",
    b"9" * 5000,
    b"{side}",
    b"s'" * 220,
    b"\x0180S",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A good routine file, then a few byte-level mutations: flips, cuts, splices, tokens."""
    if draw(st.booleans()):
        data = bytearray(draw(st.sampled_from(SEEDS)))
    else:
        data = bytearray(toml_document(draw(routines())).encode())
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3, 8]))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "cut", "text", "bytes", "token", "repeat", "truncate"]))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "text":
            data[at:at] = draw(st.text(ANY_CHAR, min_size=1, max_size=16)).encode()
        elif op == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "repeat":
            chunk = data[at : at + draw(st.integers(1, 200))]
            data[at:at] = chunk * draw(st.integers(1, 50))
        else:
            del data[at:]
    return bytes(data)


# --- The properties -------------------------------------------------------------------------


@budget(0.25)
@given(routine=routines(wild=True))
@example(routine={"title": "t", "technique": [{"title": "x", "steps": [{"say": "s'" * 220}]}]})
@example(routine={"title": "t", "technique": [{"title": "x", "steps": [{"say": "\x0180S"}]}]})
@example(routine={"title": "t", "technique": [{"title": "x", "steps": [{"hold": Raw("nan")}]}]})
@example(routine={"title": "t", "rate": Raw("9" * 5000), "technique": [{"use": "self-hug"}]})
@example(routine={"title": Raw("[" * 5000), "technique": [{"use": "self-hug"}]})
@example(routine={"title": "t", "y" * 300_000: 1, "technique": [{"use": "self-hug"}]})
@example(  # a cue for another voice, and over the length limit: the error alone
    routine={
        "title": "\u0370",
        "rate": 60,
        "technique": [{"use": "ball-release", "reps": 17}, {"use": "ball-release", "reps": 24}],
    }
)
def test_structured_routines_get_a_result_or_a_clear_error(
    folder: Path, routine: dict[str, Any]
) -> None:
    RAN["structured"] += 1
    check_and_show(folder / "routine.toml", toml_document(routine).encode("utf-8", "replace"))


@budget(0.3)
@given(data=mutated())
@example(data=b"")
@example(data=b"\xff\xfe" + 'title = "t"'.encode("utf-16-le"))
@example(data=b'\xef\xbb\xbftitle = "t"\n[[technique]]\nuse = "self-hug"\n')
@example(data=b'title = "t\x00"\n[[technique]]\nuse = "self-hug"\n')
@example(data=b'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "\x0180S" }]\n')
@example(data=b"a = " + b"[" * 100_000)
@example(data=b"a = " + b"{ b = " * 20_000)
@example(data=b'title = "t"\n' + b'"k" = 1\n' * 60_000)
def test_mutated_files_get_a_result_or_a_clear_error(folder: Path, data: bytes) -> None:
    RAN["mutated"] += 1
    check_and_show(folder / "routine.toml", data)


@budget(0.15)
@given(value=WILD, key=st.sampled_from(["title", "rate", "voice", "transition", "technique"]))
def test_any_value_for_any_routine_key(folder: Path, value: object, key: str) -> None:
    RAN["values"] += 1
    routine: dict[str, Any] = {"title": "t", "technique": [{"use": "self-hug"}]}
    routine[key] = value
    check_and_show(folder / "routine.toml", toml_document(routine).encode("utf-8", "replace"))


def speech_lengths() -> st.SearchStrategy[tuple[str, Callable[[str], int]]]:
    def hashed(text: str) -> int:
        return zlib.crc32(text.encode()) % 15_000

    return st.sampled_from(
        [
            ("rate 60", lambda text: estimate_ms(text, 60)),
            ("rate 400", lambda text: estimate_ms(text, 400)),
            ("none", lambda text: 0),
            ("hashed", hashed),
        ]
    )


@budget(0.3)
@given(routine=routines(), lengths=speech_lengths())
def test_valid_routines_are_accepted_and_compile_to_a_sound_timeline(
    folder: Path, routine: dict[str, Any], lengths: tuple[str, Callable[[str], int]]
) -> None:
    RAN["compiler"] += 1
    path = folder / "valid.toml"
    path.write_text(toml_document(routine), encoding="utf-8")
    parsed = read_routine(path)  # every value is valid: it must be accepted
    _, speech_ms = lengths
    try:
        timeline = compile_routine(parsed, speech_ms)
    except RoutineError as exc:
        assert "must compile to at most 3 hours" in str(exc)
        return
    assert 0 < timeline.duration <= MAX_ROUTINE_MS
    ends = 0
    for section in timeline.sections:
        assert section.start == ends  # contiguous
        ends = section.end
        for e in section.events:
            assert section.start <= e.start and e.end <= section.end
    speech = sorted((e for e in timeline.events if e.kind == "speech"), key=lambda e: e.start)
    for before, after in itertools.pairwise(speech):
        assert after.start >= before.end, "speech overlaps speech"
    assert all(e.duration == speech_ms(e.text or "") for e in speech)
    assert set(timeline.spoken) <= set(cue_texts(parsed))
    # holds and rests are exactly as written, whatever the speech lengths
    written: Counter[int] = Counter()
    for t in parsed.techniques:
        for step in t.steps:
            if isinstance(step, Hold | Rest):
                written[step.ms] += t.reps * max(1, len(t.sides))
    intervals = Counter(
        e.duration
        for e in timeline.events
        if e.kind == "hold" or (e.kind == "rest" and e.text == "rest")  # not a transition
    )
    assert intervals == written
    breathes = [s for t in parsed.techniques for s in t.steps if isinstance(s, Breathe)]
    assert all(
        e.duration >= min(s.ms for s in breathes) for e in timeline.events if e.kind == "breathe"
    )
    other = compile_routine(parsed, lambda text: 1)
    assert sorted(e.duration for e in other.events if e.kind in ("hold", "rest")) == sorted(
        e.duration for e in timeline.events if e.kind in ("hold", "rest")
    )


# --- Known killers and hostile files, always run --------------------------------------------


HOSTILE: dict[str, bytes] = {
    "espeak stack smash s' * 220": (
        b'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "' + b"s'" * 220 + b'" }]\n'
    ),
    "espeak embedded command 0x01 80S": (
        b'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{ say = "\\u000180S" }]\n'
    ),
    "raw 0x01 in a string": b'title = "\x0180S"\n[[technique]]\nuse = "self-hug"\n',
    "nested far too deeply": b"a = " + b"[" * 50_000,
    "5000-digit number": b'title = "t"\nrate = ' + b"9" * 5000 + b'\n[[technique]]\nuse = "x"\n',
    "not UTF-8": b'title = "caf\xe9"\n',
    "UTF-16": 'title = "t"\n'.encode("utf-16"),
    "NUL bytes": b"\x00" * 1000,
    "a huge key": b'title = "t"\n"' + b"k" * 500_000 + b'" = 1\n[[technique]]\nuse = "self-hug"\n',
    "a huge number": b'title = "t"\nrate = ' + b"9" * 4000 + b'\n[[technique]]\nuse = "self-hug"\n',
    "80,000 steps": (
        b'title = "t"\n[[technique]]\ntitle = "x"\nreps = 50\nsides = ["a", "b", "c", "d"]\n'
        b"steps = [" + b'{say="a"},' * 80_000 + b"]\n"
    ),
    "80,000 tiny rests": (
        b'title = "t"\n[[technique]]\ntitle = "x"\nreps = 50\nsides = ["a", "b"]\n'
        b"steps = [" + b"{rest=0.001}," * 75_000 + b"]\n"
    ),
    "thousands of built-ins": b'title = "t"\n' + b'[[technique]]\nuse = "self-hug"\n' * 30_000,
    "a step with many keys": (
        b'title = "t"\n[[technique]]\ntitle = "x"\nsteps = [{'
        + b", ".join(b"k%d = 1" % i for i in range(20_000))
        + b"}]\n"
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files(folder: Path, name: str) -> None:
    data = HOSTILE[name]
    assert len(data) <= MAX_FILE_BYTES, "keep the hostile files under the size limit"
    status = check_and_show(folder / "hostile.toml", data)
    assert status == (0 if name == "espeak stack smash s' * 220" else 2)  # only speaking it fails


def test_a_device_that_never_ends_is_refused(run) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    result = run("check", "/dev/zero")
    assert result.status == 2
    assert result.err == "error: zero: is not a regular file; a routine is a .toml text file\n"


# --- Limits at and just past their edges ---------------------------------------------------

USE = '[[technique]]\nuse = "self-hug"\n'


def inline(*lines: str, steps: str = '{ say = "a" }') -> str:
    return (
        'title = "t"\n[[technique]]\ntitle = "x"\n'
        + "".join(f"{x}\n" for x in lines)
        + (f"steps = [{steps}]\n")
    )


def sides(*names: str) -> str:
    return "sides = [" + ", ".join(json.dumps(n) for n in names) + "]"


# (what, good file, bad file, what the bad file's message says)
LIMITS = [
    ("routine title", f'title = "{"t" * 1000}"\n{USE}', f'title = "{"t" * 1001}"\n{USE}',
     "title: must be at most 1000 characters, got 1001"),
    ("summary", f'title = "t"\nsummary = "{"s" * 1000}"\n{USE}',
     f'title = "t"\nsummary = "{"s" * 1001}"\n{USE}', "summary: must be at most 1000"),
    ("voice", f'title = "t"\nvoice = "{"en-us".ljust(100)}"\n{USE}',
     f'title = "t"\nvoice = "{"v" * 101}"\n{USE}', "voice: must be at most 100 characters"),
    ("technique title", inline().replace('"x"', f'"{"x" * 1000}"'),
     inline().replace('"x"', f'"{"x" * 1001}"'), "technique 1, title: must be at most 1000"),
    ("position", inline(f'position = "{"p" * 1000}"'), inline(f'position = "{"p" * 1001}"'),
     "technique 1, position: must be at most 1000"),
    ("safety", inline(f'safety = "{"s" * 1000}"'), inline(f'safety = "{"s" * 1001}"'),
     "technique 1, safety: must be at most 1000"),
    ("one side", inline(sides("left")), inline("sides = []"),
     "technique 1, sides: must be a list of 1 to 4 side names, got a list"),
    ("four sides", inline(sides("a", "b", "c", "d")), inline(sides("a", "b", "c", "d", "e")),
     "technique 1, sides: must be a list of 1 to 4 side names"),
    ("sides of a built-in", f'title = "t"\n{USE}{sides("a", "b", "c", "d")}\n',
     f'title = "t"\n{USE}{sides(*"abcde")}\n', "technique 1, sides: must be a list of 1 to 4"),
    ("side name", inline(sides("s" * 40)), inline(sides("s" * 41)),
     "technique 1, sides: must be at most 40 characters, got 41"),
    ("{side} filled in", inline(sides("s" * 40), steps=f'{{ say = "{"a" * 960}{{side}}" }}'),
     inline(sides("s" * 40), steps=f'{{ say = "{"a" * 961}{{side}}" }}'),
     "a cue must be at most 1000 characters once {side} is filled in"),
    ("equipment text", inline(f'equipment = "{"e" * 100}"'), inline(f'equipment = "{"e" * 101}"'),
     "technique 1, equipment: must be at most 100 characters, got 101"),
    ("equipment list", inline(f'equipment = ["mat", "{"e" * 100}"]'),
     inline(f'equipment = ["mat", "{"e" * 101}"]'), "equipment: must be at most 100 characters"),
    ("equipment kind", inline("equipment = []"), inline("equipment = 3"),
     "equipment: must be text or a list of text, got 3"),
    ("inline reps low", inline("reps = 1"), inline("reps = 0"),
     "technique 1, reps: must be a whole number from 1 to 50, got 0"),
    ("inline reps high", inline("reps = 50"), inline("reps = 51"),
     "technique 1, reps: must be a whole number from 1 to 50, got 51"),
    ("reps are whole", inline("reps = 2"), inline("reps = 2.0"), "got 2.0"),
    ("rest low", inline(steps="{ rest = 0.001 }"), inline(steps="{ rest = 0 }"),
     "step 1, rest: must be seconds in (0, 600], got 0"),
    ("1 ms", inline(steps="{ hold = 0.0006 }"), inline(steps="{ hold = 0.0004 }"),
     "hold: must be seconds in (0, 600] (at least 1 ms), got 0.0004"),
    ("hold override high", f'title = "t"\n{USE}hold = 600\n', f'title = "t"\n{USE}hold = 600.001\n',
     "technique 1, hold: must be seconds in (0, 600], got 600.001"),
    ("hold override low", f'title = "t"\n{USE}hold = 0.001\n', f'title = "t"\n{USE}hold = 0\n',
     "technique 1, hold: must be seconds in (0, 600], got 0"),
    ("breathe nan", inline(steps='{ breathe = "out", seconds = 600 }'),
     inline(steps='{ breathe = "out", seconds = nan }'), "seconds: must be seconds in (0, 600]"),
    ("transition inf", 'title = "t"\ntransition = 600\n' + USE,
     'title = "t"\ntransition = inf\n' + USE, "transition: must be seconds in [0, 600], got inf"),
    ("techniques", f'title = "t"\n{USE}', 'title = "t"\ntechnique = []\n',
     "technique: must be one or more [[technique]] tables, got a list"),
    ("step runs", inline(sides(*"abcd"), "reps = 50", steps=", ".join(["{ rest = 0.001 }"] * 50)),
     inline(sides(*"abcd"), "reps = 50", steps=", ".join(["{ rest = 0.001 }"] * 50))
     + '[[technique]]\ntitle = "y"\nsteps = [{ rest = 0.001 }]\n',
     f"a routine may run at most {MAX_STEP_RUNS} steps in all (every rep and side counted), "
     f"this one runs {MAX_STEP_RUNS + 1}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("good", "bad", "message"), [x[1:] for x in LIMITS], ids=[x[0] for x in LIMITS]
)
def test_limit_at_and_past_its_edge(run, routine_file, good: str, bad: str, message: str) -> None:
    result = run("check", str(routine_file(good)))
    assert result.status == 0, result.err
    result = run("check", str(routine_file(bad)))
    assert result.status == 2
    assert message in result.err, result.err
    assert all(line.startswith("error: routine.toml") for line in result.err.splitlines())


def test_file_size_limit_at_and_past_its_edge(run, routine_file) -> None:
    body = f'title = "t"\n{USE}'.encode()
    pad = MAX_FILE_BYTES - len(body) - 2
    exactly = body + b"#" + b"x" * pad + b"\n"
    assert len(exactly) == MAX_FILE_BYTES
    assert run("check", str(routine_file(exactly))).status == 0
    result = run("check", str(routine_file(exactly + b"\n")))
    assert result.status == 2
    assert result.err == "error: routine.toml: is larger than 1000 kB; is it really a routine?\n"


def test_three_hour_limit_at_and_past_its_edge(run, routine_file) -> None:
    def routine(last_rest_ms: int) -> str:
        return (
            'title = "Three hours"\ntransition = 0\n'
            '[[technique]]\ntitle = "Long"\nreps = 17\nsteps = [{ rest = 600 }]\n'
            f'[[technique]]\ntitle = "Last"\nsteps = [{{ rest = {last_rest_ms / 1000} }}]\n'
        )

    probe = 300_000
    overhead = api.compile(str(routine_file(routine(probe))), estimate_only=True).duration - probe
    exact = MAX_ROUTINE_MS - overhead
    assert 0 < exact <= 600_000
    path = routine_file(routine(exact))
    assert api.compile(str(path), estimate_only=True).duration == MAX_ROUTINE_MS
    result = run("check", str(path))
    assert result.status == 0, result.err
    assert result.out.endswith(": ok, ~180:00\n")
    result = run("check", str(routine_file(routine(exact + 1))))
    assert result.status == 2
    assert result.err == (
        "error: routine.toml: a routine must compile to at most 3 hours, "
        "this one runs to at least 180 minutes\n"
    )


# --- NaN and infinities, wherever a number goes -----------------------------------------------

NOT_FINITE = st.sampled_from(
    ["nan", "NaN", "-nan", "+nan", "NAN", "inf", "-inf", "+inf", "Infinity", "-infinity",
     "1e999", "-1e999", "1e308000", " nan", "nan "]
)  # fmt: skip
"""How a command line can spell a number that is not finite: Python's float() reads them all."""
TOML_NOT_FINITE = st.sampled_from(["nan", "+nan", "-nan", "inf", "+inf", "-inf", "1e999"])
"""TOML's own literals for them (1e999 is an infinity once read)."""
OPTIONS = {
    "--pace": ["show", "list", "check", "export"],
    "--rate": ["show", "check", "export"],
    "--loudness": ["export"],
    "--ambience-level": ["export"],
}


@budget(0.05)
@given(option=st.sampled_from(sorted(OPTIONS)), command=st.integers(0, 3), spelling=NOT_FINITE)
def test_a_number_that_is_not_finite_is_refused_on_the_command_line(
    folder: Path, option: str, command: int, spelling: str
) -> None:
    """Refused before any work, in one line naming the option: never a silent export."""
    RAN["not finite, command line"] += 1
    name = OPTIONS[option][command % len(OPTIONS[option])]
    audio = folder / "never.wav"
    args = {"show": ["upper-back", "--estimate"], "list": [], "check": ["upper-back"]}
    status, out, err = cli(
        name, *args.get(name, ["upper-back", "-o", str(audio)]), option, spelling
    )
    assert status == 2 and out == "", (status, out, err)
    assert f"Invalid value for '{option}': must be " in err and "Traceback" not in err, err
    assert not audio.exists()


CONFIG_NUMBERS = ["rate", "pace", "volume", "loudness", "ambience_level", "cache_limit_mb"]


@budget(0.05)
@given(key=st.sampled_from(CONFIG_NUMBERS), literal=TOML_NOT_FINITE)
def test_a_number_that_is_not_finite_is_refused_in_the_config(key: str, literal: str) -> None:
    RAN["not finite, config"] += 1
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"{key} = {literal}\n", encoding="utf-8")
    try:
        command = ["cache", "info"] if key == "cache_limit_mb" else ["export", "upper-back"]
        audio = config.parent / "never.wav"
        args = [] if key == "cache_limit_mb" else ["-o", str(audio)]
        status, out, err = cli(*command, *args)
    finally:
        config.unlink()
    assert status == 2, (status, out, err)
    assert err.startswith(f"error: {config}: {key}: must be "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not audio.exists()


ROUTINE_NUMBERS = {
    "pace": "pace = {}\n" + USE,
    "ambience_level": "ambience_level = {}\n" + USE,
    "rate": "rate = {}\n" + USE,
    "transition": "transition = {}\n" + USE,
    "hold override": USE + "hold = {}\n",
    "reps": USE + "reps = {}\n",
    "hold": '[[technique]]\ntitle = "x"\nsteps = [{{ hold = {} }}]\n',
    "rest": '[[technique]]\ntitle = "x"\nsteps = [{{ rest = {} }}]\n',
    "breathe": '[[technique]]\ntitle = "x"\nsteps = [{{ breathe = "in", seconds = {} }}]\n',
}


@budget(0.05)
@given(where=st.sampled_from(sorted(ROUTINE_NUMBERS)), literal=TOML_NOT_FINITE)
def test_a_number_that_is_not_finite_is_refused_in_a_routine(
    folder: Path, where: str, literal: str
) -> None:
    RAN["not finite, routine"] += 1
    text = 'title = "t"\n' + ROUTINE_NUMBERS[where].format(literal)
    assert check_and_show(folder / "routine.toml", text.encode()) == 2
