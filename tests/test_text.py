"""Cue text at its edges, through `check` and `show`: a cue of only punctuation has nothing to
say, a byte-order mark starts a file harmlessly, and zero-width joiners belong to the text."""

from __future__ import annotations

import json

import pytest


def routine(say: str, title: str = "Edges") -> str:
    return (
        f'title = {json.dumps(title, ensure_ascii=False)}\n[[technique]]\ntitle = "Technique"\n'
        f"steps = [{{ say = {json.dumps(say, ensure_ascii=False)} }}]\n"
    )


@pytest.mark.parametrize("say", [".", "...!?", "¿¡ — …", "« » ( ) [ ] - _ ' \" ;"])
def test_a_cue_of_only_punctuation_is_an_error(run, routine_file, say: str) -> None:
    result = run("check", str(routine_file(routine(say))))
    assert result.status == 2
    assert result.err == (
        "error: routine.toml: technique 1, step 1, say: must have something to say, not only "
        f"punctuation, got {say!r}\n"
    )


def test_a_title_of_only_punctuation_is_an_error_too(run, routine_file) -> None:
    result = run("check", str(routine_file(routine("Breathe.", title="?!"))))
    assert result.status == 2
    assert result.err.startswith("error: routine.toml: title: must have something to say")


@pytest.mark.parametrize("say", ["1.", "&", "%", "+", "👍", "Ok...", "§ 5"])
def test_symbols_digits_and_letters_are_something_to_say(run, routine_file, say: str) -> None:
    result = run("check", str(routine_file(routine(say))))
    assert result.status == 0, result.err


def test_a_byte_order_mark_is_accepted(run, routine_file) -> None:
    bom = b"\xef\xbb\xbf"
    result = run("check", str(routine_file(bom + routine("Fine.").encode())))
    assert result.status == 0, result.err
    broken = bom + b'title = "Edges"\nrate = = 1\n'
    result = run("check", str(routine_file(broken)))
    assert result.status == 2 and result.err.startswith("error: routine.toml: line 2: invalid TOML")


@pytest.mark.speech
def test_zero_width_joiners_are_text(run, routine_file) -> None:
    family = (
        "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 and a coder \U0001f469\u200d\U0001f4bb"
    )
    persian = "Persian: \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    path = routine_file(routine(persian, title=family))
    assert run("check", str(path)).status == 0
    shown = run("show", str(path), "--json")  # real speech
    assert shown.status == 0, shown.err
    texts = [e["text"] for e in json.loads(shown.out)["events"] if e["kind"] == "speech"]
    assert f"{family}." in texts and persian in texts


def test_other_format_characters_are_still_refused(run, routine_file) -> None:
    result = run("check", str(routine_file(routine("zero\u200bwidth space"))))
    assert result.status == 2 and "got U+200B" in result.err
