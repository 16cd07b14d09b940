"""The demo's library function: who the person is, what was asked, how close it got — honestly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edpbrl.errors import EdpbrlError
from edpbrl.experiments.demo import run_demo
from edpbrl.experiments.simulate import SimConfig, run_one
from edpbrl.personalizer import MAX_EPISODES
from edpbrl.users import read_style

KW = dict(embedder="hashing:16", k=3, episodes=4)


@pytest.fixture(scope="module")
def demo(tiny_vocab_dir):
    return run_demo("sunny", vocab=str(tiny_vocab_dir), **KW)


def test_rows_are_the_simulate_sessions(demo, tiny_vocab_dir):
    """Asking nothing is a coin flip; the other rows are exactly `simulate --seeds 1`'s sessions."""
    names = [c.name for c in demo.comparisons]
    assert names == ["asking nothing", "random questions", "ed-pbrl (this demo)"]
    nothing = demo.row("asking nothing")
    assert nothing.preference_error == 0.5 and nothing.cosine_error == 1.0 and nothing.questions == 0
    cfg = SimConfig(k=3, embedder="hashing:16", vocab=str(tiny_vocab_dir))
    for method, row in (
        ("random", demo.row("random questions")),
        ("ed-pbrl", demo.row("ed-pbrl (this demo)")),
    ):
        [ref] = run_one("sunny", method, [4], 0, cfg)
        assert row.questions == ref["questions"] == demo.questions
        assert row.preference_error == ref["preference_error"]
        assert row.cosine_error == ref["cosine_error"]
        assert row.choice_accuracy == ref["choice_accuracy"]


def test_the_person_and_the_questions(demo):
    assert demo.sentences == read_style("sunny") and demo.style == "sunny"
    assert 1 / 3 < demo.picked_favourite < 1
    assert sum(demo.questions_per_slot.values()) == demo.questions
    assert demo.certificate["relative_gap"] <= 1e-4 and demo.criterion == "A"
    assert "average uncertainty" in demo.criterion_aim
    assert 1 <= len(demo.examples) <= 3
    for e in demo.examples:
        assert len(e.options) == 3 and 0 <= e.choice < 3 and 0 <= e.favourite < 3
        assert 0 < e.choice_probability < 1


def test_learned_and_varied_prompts(demo):
    assert [s.slot for s in demo.learned] == ["subject", "style", "light"]
    assert all(len(s.likes) == len(s.dislikes) == len(s.true_likes) == 3 for s in demo.learned)
    texts = [p.prompt for p in demo.prompts]
    assert len(texts) == 4 and demo.min_diff_slots == 2
    parts = [t.split(", ") for t in texts]
    assert all(sum(x != y for x, y in zip(a, b)) >= 2 for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert all(0 <= p.person_percentile <= 1 for p in demo.prompts)
    assert demo.uncertainty > 0 and demo.score_spread > 0


def test_json_round_trip(demo):
    d = json.loads(json.dumps(demo.to_dict()))
    assert d["comparisons"][0]["name"] == "asking nothing" and d["prompts"][0]["prompt"]
    assert np.isfinite(d["comparisons"][-1]["preference_error"])


def test_baseline_equal_to_the_method_is_not_repeated(tiny_vocab_dir):
    r = run_demo("sunny", vocab=str(tiny_vocab_dir), method="random", **{**KW, "episodes": 2})
    assert [c.name for c in r.comparisons] == ["asking nothing", "random (this demo)"]
    assert r.certificate is None


def test_arguments_checked_first(tiny_vocab_dir):
    with pytest.raises(EdpbrlError, match=rf"^episodes must be in 1..{MAX_EPISODES}, got 100000$"):
        run_demo("sunny", vocab=str(tiny_vocab_dir), embedder="hashing:16", episodes=100_000)
    with pytest.raises(EdpbrlError, match="^unknown method 'nosuch': expected one of random, ed-pbrl"):
        run_demo("sunny", vocab=str(tiny_vocab_dir), method="nosuch", **KW)
    with pytest.raises(EdpbrlError, match="^style file not found: nosuch"):
        run_demo("nosuch", vocab=str(tiny_vocab_dir), **KW)


def test_with_a_prior_the_guess_and_both_random_rows(tiny_vocab_dir):
    """With a prior: the zero-question guess (the prior's mean moved by the words), random
    questions with the same start and with the flat prior — each exactly a simulate session."""
    d = run_demo("sunny", vocab=str(tiny_vocab_dir), prior="packaged", words="auto", **KW)
    names = [c.name for c in d.comparisons]
    first, last = ["asking nothing", "your words, 0 questions"], ["random questions", "ed-pbrl (this demo)"]
    assert names == [*first, "random, flat prior", *last]
    assert d.prior == "packaged" and d.words == "sunny" and d.row("your words, 0 questions").questions == 0
    with_prior = SimConfig(
        k=3, embedder="hashing:16", vocab=str(tiny_vocab_dir), prior="packaged", words="auto"
    )
    flat = SimConfig(k=3, embedder="hashing:16", vocab=str(tiny_vocab_dir))
    for method, cfg, name in (
        ("random", flat, "random, flat prior"),
        ("random", with_prior, "random questions"),
        ("ed-pbrl", with_prior, "ed-pbrl (this demo)"),
    ):
        [ref] = run_one("sunny", method, [4], 0, cfg)
        assert d.row(name).preference_error == ref["preference_error"]
        assert d.row(name).cosine_error == ref["cosine_error"]
