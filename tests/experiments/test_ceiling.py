"""The oracle bound on a design's gain (experiments.ceiling): its quantities against direct
computation, and that the oracle is never behind random questions."""

import numpy as np
import pytest
import torch

from edpbrl.errors import EdpbrlError
from edpbrl.experiments.ceiling import information_ceiling
from edpbrl.experiments.simulate import SimConfig, setup_world
from edpbrl.users import read_style, style_theta


def _cfg(tiny_vocab_dir, **kw):
    return SimConfig(
        vocab=str(tiny_vocab_dir), embedder="hashing:16", k=3, n_test=200, n_choice_tests=20, **kw
    )


def _pool_features(cfg, seed: int, pool: int):
    """The ceiling's pool rebuilt independently: the options' prefix features (pool, K, steps, d)
    and θ = β θ*."""
    w = setup_world(cfg)
    rng = np.random.default_rng(seed)
    eps = np.stack(
        [np.stack([rng.integers(len(s), size=3) for s in w.design_vocab.slots], -1) for _ in range(pool)]
    )
    texts = [w.design_vocab.prompt(o[: h + 1]) for e in eps for o in e for h in range(3)]
    X = torch.as_tensor(np.asarray(w.learner.encode(texts), dtype=np.float64)).reshape(pool, 3, 3, -1)
    return X, torch.as_tensor(cfg.rationality * style_theta(read_style("sunny"), w.base))


def _pool_information(cfg, seed: int, pool: int):
    """Each pool episode's information factors at the true θ (pool, d, steps·K), the test prompts'
    feature covariance C (d, d), and θ = β θ*."""
    from edpbrl.design.pool import info_factors

    X, theta = _pool_features(cfg, seed, pool)
    C = torch.cov(torch.as_tensor(setup_world(cfg).X_test_learner).T, correction=0)
    return info_factors(X, theta), C, theta


def test_prior_variance_is_the_test_score_variance_under_the_flat_prior(tiny_vocab_dir):
    cfg = _cfg(tiny_vocab_dir, lam=2.0)
    r = information_ceiling("sunny", cfg, budgets=(6, 12), pool=40, orders=3)
    X = setup_world(cfg).X_test_learner
    C = np.cov(X.T, bias=True)
    assert r.prior_variance == pytest.approx(np.trace(C) / 2.0, rel=1e-9)  # tr(C (λI)⁻¹)
    assert r.questions_per_episode == 3 and r.questions == [6, 12]


def test_oracle_is_never_behind_random_and_the_ratio_is_consistent(tiny_vocab_dir):
    r = information_ceiling(
        "sunny", _cfg(tiny_vocab_dir, rationality=20.0), budgets=(3, 9, 15), pool=60, orders=5
    )
    assert all(o <= rv + 1e-12 for o, rv in zip(r.oracle_variance, r.random_variance))
    assert all(o < r.prior_variance for o in r.oracle_variance)
    # random needs at least as many questions as the oracle to reach the oracle's variance
    assert all(need >= q - 1e-9 for need, q in zip(r.random_questions_for_oracle, r.questions))
    assert r.as_dict()["style"] == "sunny"


def test_first_oracle_step_is_the_best_single_episode(tiny_vocab_dir):
    """With a budget of one episode the oracle's variance is the minimum over the pool, found here
    by trying every candidate with an explicit inverse."""
    cfg = _cfg(tiny_vocab_dir, rationality=10.0)
    r = information_ceiling("sunny", cfg, budgets=(3,), pool=25, orders=2, seed=4)
    U, C, _ = _pool_information(cfg, seed=4, pool=25)
    best = min(
        float(torch.trace(C @ torch.linalg.inv(torch.eye(16, dtype=torch.float64) + u @ u.T))) for u in U
    )
    assert r.oracle_variance[0] == pytest.approx(best, rel=1e-8)


def test_errors(tiny_vocab_dir):
    with pytest.raises(EdpbrlError, match="at least 2 episodes"):
        information_ceiling("sunny", _cfg(tiny_vocab_dir), pool=1)
    with pytest.raises(EdpbrlError, match="cannot cover"):
        information_ceiling("sunny", _cfg(tiny_vocab_dir), budgets=(300,), pool=10)


def test_an_oracle_that_knows_less_is_not_better_at_one_episode(tiny_vocab_dir):
    """The full oracle's first episode is the best in the pool, so a chooser without the true θ,
    without the real features or without the test prompts does no better after one episode."""
    cfg = _cfg(tiny_vocab_dir, rationality=10.0, prior="none")
    full = information_ceiling("sunny", cfg, budgets=(3, 9), pool=30, orders=2, seed=2)
    for kw in (dict(knows="prior"), dict(features="surrogate"), dict(target="vocab")):
        r = information_ceiling("sunny", cfg, budgets=(3, 9), pool=30, orders=2, seed=2, **kw)
        assert r.oracle_variance[0] >= full.oracle_variance[0] - 1e-12
        assert r.random_variance == full.random_variance  # the same pool and orders
        assert {k: r.as_dict()[k] for k in kw} == kw
    with pytest.raises(EdpbrlError, match="knows must be one of truth, prior"):
        information_ceiling("sunny", cfg, knows="everything")


def test_risk_at_the_persons_theta_against_explicit_inverses(tiny_vocab_dir):
    """R = bᵀH⁻¹CH⁻¹b + tr(CH⁻¹FH⁻¹) with b = P(m − θ): for the flat prior (m = 0, P = λI) after
    the oracle's one episode, recomputed with explicit inverses from the brute-force best episode."""
    cfg = _cfg(tiny_vocab_dir, rationality=10.0, lam=2.0)
    r = information_ceiling("sunny", cfg, budgets=(3,), pool=25, orders=2, seed=4)
    U, C, theta = _pool_information(cfg, seed=4, pool=25)
    P = 2.0 * torch.eye(16, dtype=torch.float64)
    Hs = [P + u @ u.T for u in U]
    i = int(np.argmin([float(torch.trace(C @ torch.linalg.inv(H))) for H in Hs]))
    Hi = torch.linalg.inv(Hs[i])
    b = P @ (0 - theta)
    bias = float(b @ Hi @ C @ Hi @ b)
    var = float(torch.trace(C @ Hi @ (U[i] @ U[i].T) @ Hi))
    assert r.oracle_bias[0] == pytest.approx(bias, rel=1e-8)
    assert r.oracle_risk[0] == pytest.approx(bias + var, rel=1e-8)
    assert 0 < r.random_bias[0] < r.random_risk[0]


def test_simulated_people_match_the_linearised_risk(tiny_vocab_dir):
    """Simulated people's mean squared test-score error (θ̂ − θ)ᵀC(θ̂ − θ) agrees with the
    linearised R once answers dominate the flat prior, and their preference error falls."""
    cfg = _cfg(tiny_vocab_dir, rationality=5.0, lam=0.5)
    r = information_ceiling("sunny", cfg, budgets=(30, 90), pool=40, orders=4, seed=1, realise=60)
    assert r.realised == 60 and len(r.oracle_pref_error) == 2
    for k in ("oracle", "random"):
        risk, sq = getattr(r, f"{k}_risk"), getattr(r, f"{k}_sq_error")
        assert sq[1] == pytest.approx(risk[1], rel=0.2), (k, sq, risk)
        errs, se = getattr(r, f"{k}_pref_error"), getattr(r, f"{k}_pref_error_se")
        assert errs[1] < errs[0] and all(0 < v < 0.1 for v in se)
    with pytest.raises(EdpbrlError, match="realise must be an integer"):
        information_ceiling("sunny", cfg, realise=-1)


def test_evidence_is_the_answers_kl_between_the_persons_theta_and_the_prior_mean(tiny_vocab_dir):
    """With the flat prior (m = 0) each question's evidence is KL(p_θ ‖ uniform) = log K − H(p_θ):
    the oracle's evidence is that sum over the episodes it asked (oracle_order), random's is
    positive and grows with the budget, and the departure distance is θᵀ(λI)θ / d."""
    cfg = _cfg(tiny_vocab_dir, rationality=10.0, lam=2.0)
    r = information_ceiling("sunny", cfg, budgets=(3, 9), pool=25, orders=2, seed=4)
    X, theta = _pool_features(cfg, seed=4, pool=25)
    p = torch.softmax(torch.einsum("nkhd,d->nkh", X, theta), dim=1)
    kl = (np.log(3) + (p * p.log()).sum(1)).sum(1)  # (pool,) summed over an episode's questions
    assert len(r.oracle_order) == 3
    for j, n in enumerate((1, 3)):
        assert r.oracle_evidence[j] == pytest.approx(float(kl[r.oracle_order[:n]].sum()), rel=1e-9)
    assert 0 < r.random_evidence[0] < r.random_evidence[1]
    assert r.question_evidence_mean == pytest.approx(float(kl.mean()) / 3, rel=1e-9)
    per_question = np.log(3) + (p * p.log()).sum(1)
    assert r.question_evidence_max == pytest.approx(float(per_question.max()), rel=1e-9)
    assert r.oracle_evidence[-1] <= 3 * r.question_evidence_max * 3 + 1e-12  # 3 episodes × 3 questions
    assert r.departure_distance == pytest.approx(2.0 * float(theta @ theta) / 16, rel=1e-9)


def test_risk_oracle_is_not_above_the_variance_oracle_after_one_episode(tiny_vocab_dir):
    """target="risk" picks the episode of least R at the true θ, so after one episode its R is
    at most the variance oracle's (same pool and random orders)."""
    cfg = _cfg(tiny_vocab_dir, rationality=10.0, lam=2.0)
    var = information_ceiling("sunny", cfg, budgets=(3,), pool=25, orders=2, seed=4)
    risk = information_ceiling("sunny", cfg, budgets=(3,), pool=25, orders=2, seed=4, target="risk")
    assert risk.oracle_risk[0] <= var.oracle_risk[0] + 1e-12
    assert risk.random_risk == var.random_risk and risk.target == "risk"
