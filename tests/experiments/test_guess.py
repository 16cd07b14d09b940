"""The zero-question guesses (experiments.guess): each guess against its direct computation, the
oracles' defining properties, and bad input."""

import numpy as np
import pytest

from edpbrl.errors import EdpbrlError
from edpbrl.experiments.guess import GUESSES, span_projection, zero_question_guesses
from edpbrl.experiments.simulate import SimConfig, learner_prior, person_theta, setup_world
from edpbrl.users import preference_error


def _cfg(tiny_vocab_dir, **kw):
    kw = {"prior": "packaged", "words": "auto", **kw}
    return SimConfig(
        vocab=str(tiny_vocab_dir), embedder="hashing:16", k=3, n_test=200, n_choice_tests=20, **kw
    )


def test_span_projection_keeps_what_is_in_the_span_and_leaves_an_orthogonal_residual():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((4, 10))
    inside = rng.standard_normal(4) @ B
    np.testing.assert_allclose(span_projection(B, inside), inside, atol=1e-10)
    t = rng.standard_normal(10)
    residual = t - span_projection(B, t)
    np.testing.assert_allclose(B @ residual, 0.0, atol=1e-10)


def test_guesses_match_their_direct_computation(tiny_vocab_dir):
    cfg = _cfg(tiny_vocab_dir)
    r = zero_question_guesses("sunny", cfg)
    assert set(r.preference_error) == set(GUESSES) and r.words == "sunny"
    assert "sunny" in r.left_out  # its namesake is never in its own prior
    w = setup_world(cfg)
    prior = learner_prior("sunny", cfg, w)
    theta = person_theta("sunny", cfg, w)
    e = np.asarray(w.learner.encode(["sunny"])[0], dtype=np.float64)
    X = w.X_test_learner

    def pref(g):
        return preference_error(g, theta, X, cfg.n_pairs, seed=0)

    assert r.members == len(prior.population)
    assert r.preference_error["population mean"] == pytest.approx(pref(prior.mean))
    assert r.preference_error["prior + words"] == pytest.approx(pref(prior.with_words(e).mean))
    assert r.preference_error["words alone"] == pytest.approx(pref(e))
    assert r.preference_error["population span"] == pytest.approx(
        pref(span_projection(prior.population, theta))
    )
    # the angle grid holds the mean's direction (0°) and the words' (90°): the oracle is no worse
    best = r.preference_error["best of mean and words"]
    assert best <= min(pref(prior.mean), pref(e)) + 1e-12
    assert -90.0 <= r.best_angle <= 90.0
    # a larger span explains θ* at least as well in the least-squares sense (cosine error)
    assert r.cosine_error["population span + words"] <= r.cosine_error["population span"] + 1e-12


def test_without_words_the_word_guesses_are_absent(tiny_vocab_dir):
    r = zero_question_guesses("sunny", _cfg(tiny_vocab_dir, words="none"))
    assert r.words is None and r.best_angle is None
    assert set(r.preference_error) == {"population mean", "population span", "random span"}


def test_a_flat_prior_has_no_guess(tiny_vocab_dir):
    with pytest.raises(EdpbrlError, match="needs a prior"):
        zero_question_guesses("sunny", _cfg(tiny_vocab_dir, prior="none"))
