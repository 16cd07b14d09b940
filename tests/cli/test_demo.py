"""``edpbrl demo``: the plain-words report and its JSON twin (hashing encoder, tiny vocabulary)."""

from __future__ import annotations

import json

import pytest

from edpbrl.cli import main

ARGS = ["demo", "--embedder", "hashing:16", "--k", "3", "--episodes", "3"]


@pytest.fixture(scope="module")
def outputs(tiny_vocab_dir):
    import contextlib
    import io

    got = {}
    for key, extra in (("plain", []), ("json", ["--json"])):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            assert main([*ARGS, "--vocab", str(tiny_vocab_dir), *extra]) == 0
        got[key] = buf.getvalue()
    return got


def test_plain_report_says_who_what_how_close(outputs):
    out = outputs["plain"]
    for heading in (
        "1. The person: a simulated person whose taste is the style 'sunny'",
        "2. What it asked, and why: 9 questions",
        "3. How close it got, on 5,000 pairs of held-out prompts",
        "4. What it learned, per slot",
        "5. Personalised prompts",
    ):
        assert heading in out
    assert "“An image of a bright beach under a cloudless blue sky" in out  # the style's sentences
    flat = " ".join(out.split())  # phrases may wrap
    # the paper's K-policy design is not concave: a stationarity gap and the relaxation's bound
    assert "no small change of any one policy improves it" in flat
    assert "a relaxation proves the best possible is at most" in flat
    assert "← picked" in out  # example questions with the person's answer
    for row in ("asking nothing", "random questions", "ed-pbrl (this demo)"):
        assert f"   {row}" in out
    assert "50.0%" in out  # asking nothing: a coin flip
    assert "0 = the same direction, 1 = unrelated" in flat
    assert "The learner started from a guess: the person's own words ('sunny') and a prior" in flat


def test_json_has_the_same_content(outputs):
    d = json.loads(outputs["json"])
    assert {
        "style",
        "sentences",
        "rationality",
        "picked_favourite",
        "method",
        "certificate",
        "examples",
        "comparisons",
        "learned",
        "prompts",
    } <= set(d)
    assert [c["name"] for c in d["comparisons"]] == [  # the default: a prior and the style's name
        "asking nothing",
        "your words, 0 questions",
        "random, flat prior",
        "random questions",
        "ed-pbrl (this demo)",
    ]
    assert d["prior"] == "packaged" and d["words"] == "sunny"
    assert d["comparisons"][0]["preference_error"] == 0.5
    plain = outputs["plain"]
    assert all(p["prompt"].split(", ")[0] in plain for p in d["prompts"])
