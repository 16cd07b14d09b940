"""The simulation harness: worlds, metrics and determinism."""

import numpy as np
import pytest

from edpbrl.errors import EdpbrlError
from edpbrl.experiments.simulate import SimConfig, aggregate, run_one, setup_world


@pytest.mark.parametrize("world", ["embedding", "additive", "misspecified"])
def test_worlds_run_and_report_metrics(tiny_vocab_dir, world):
    cfg = SimConfig(
        vocab=str(tiny_vocab_dir), embedder="hashing:32", k=3, world=world, n_test=200, n_choice_tests=50
    )
    rows = run_one("sunny", "random", [4, 8], 0, cfg)
    assert [r["episodes"] for r in rows] == [4, 8]
    for r in rows:
        assert 0 <= r["cosine_error"] <= 2 and 0 <= r["preference_error"] <= 1
        assert 0 <= r["choice_accuracy"] <= 1
    w = setup_world(cfg)
    assert (w.learner is w.user) == (world != "misspecified")
    assert run_one("sunny", "random", [4, 8], 0, cfg) == [
        {**r, "seconds": pytest.approx(r["seconds"], abs=1e9)} for r in rows
    ]


def test_choice_accuracy_beats_chance_after_learning(tiny_vocab_dir, tmp_path):
    # a taste written in the vocabulary's own words, so held-out prompts carry a clear signal
    # (the oracle θ̂ = θ* reaches 0.84 here, θ̂ = 0 0.31; chance is 1/3)
    style = tmp_path / "warm.txt"
    style.write_text(
        "golden hour light on a watercolor painting\nsoft morning light, oil painting\n"
        "candlelight in an old library, watercolor\n"
    )
    cfg = SimConfig(
        vocab=str(tiny_vocab_dir),
        embedder="hashing:32",
        k=3,
        rationality=30.0,
        n_test=200,
        n_choice_tests=100,
    )
    rows = run_one(str(style), "ed-pbrl", [60], 0, cfg)
    assert rows[0]["choice_accuracy"] > 1 / 3 + 0.25


def test_aggregate_mean_and_se():
    rows = [
        {
            "style": "s",
            "method": "m",
            "episodes": 5,
            "cosine_error": c,
            "preference_error": 0.1,
            "choice_accuracy": 0.5,
            "seconds": 1.0,
        }
        for c in (0.2, 0.4)
    ]
    (a,) = aggregate(rows)
    assert a["cosine_error_mean"] == pytest.approx(0.3)
    assert a["cosine_error_se"] == pytest.approx(np.std([0.2, 0.4], ddof=1) / np.sqrt(2))


def test_unknown_world(tiny_vocab_dir):
    with pytest.raises(EdpbrlError, match="unknown world"):
        setup_world(SimConfig(vocab=str(tiny_vocab_dir), embedder="hashing:8", world="mars"))
