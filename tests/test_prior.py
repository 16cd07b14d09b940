"""The population prior: its fit against scikit-learn's estimators, its algebra, its files, and its
use by the estimator and the designs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edpbrl import Personalizer
from edpbrl.choice import fit_mle
from edpbrl.embed import HashingEmbedder
from edpbrl.errors import EdpbrlError
from edpbrl.prior import Prior, fit_prior, member_name, prior_from_styles, resolve_prior


def _population(n=12, d=10, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(3, d))
    X = 0.3 + rng.normal(size=(n, 3)) @ basis * 0.2 + 0.01 * rng.normal(size=(n, d))
    return X, [f"style_{i}" for i in range(n)]


def test_covariance_is_the_ledoit_wolf_estimate_and_low_rank_plus_isotropic():
    from sklearn.covariance import LedoitWolf

    X, names = _population()
    p = fit_prior(X, names, embedder="hashing:10")
    lw = LedoitWolf().fit(X)
    np.testing.assert_allclose(p.mean, X.mean(0))
    np.testing.assert_allclose(p.covariance(), lw.covariance_, atol=1e-12)
    assert p.components.shape == (10, 10) and np.allclose(
        p.components @ p.components.T, np.eye(10), atol=1e-10
    )
    assert p.noise > 0 and (p.variances >= 0).all()
    floored = fit_prior(X, names, embedder="hashing:10", noise_floor=0.5)
    assert floored.noise == 0.5


def test_theta_precision_is_the_inverse_covariance_on_theta():
    X, names = _population()
    p = fit_prior(X, names, embedder="hashing:10", scale=7.0, scale_sd=2.0)
    C = 49.0 * p.covariance() + 4.0 * np.outer(p.mean, p.mean)
    np.testing.assert_allclose(p.theta_covariance(), C, atol=1e-10)
    np.testing.assert_allclose(p.theta_precision() @ C, np.eye(10), atol=1e-8)
    np.testing.assert_allclose(p.theta_mean(), 7.0 * p.mean)
    assert p.with_scale(2.0).scale_sd == 1.0


def test_own_words_weights_are_fitted_by_leave_one_out_least_squares():
    """Members built exactly as a·(mean of the others) + b·e are recovered."""
    rng = np.random.default_rng(1)
    n, d, a, b = 15, 8, 0.7, 0.4
    E = rng.normal(size=(n, d))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    # solve X = a·(S − X)/(n − 1) + b·E for X (S = Σ X): a linear system in X
    Mx = np.eye(n) + a / (n - 1) * (np.eye(n) - np.ones((n, n)))
    X = np.linalg.solve(Mx, b * E)
    p = fit_prior(X, [f"s{i}" for i in range(n)], embedder="hashing:8", words=E)
    assert p.mean_weight == pytest.approx(a) and p.words_weight == pytest.approx(b)
    e = E[0]
    np.testing.assert_allclose(p.with_words(e).mean, a * p.mean + b * e)
    assert p.with_words(None) is p
    with pytest.raises(EdpbrlError, match="words' embedding must be a finite vector"):
        p.with_words(np.zeros(3))


def test_leave_out_refits_and_records():
    X, names = _population()
    names[3] = "Cozy_Autumn"
    p = fit_prior(X, names, embedder="hashing:10")
    q = p.without("paper:cozy-autumn")
    assert q.left_out == ("Cozy_Autumn",) and len(q.names) == 11
    np.testing.assert_allclose(q.mean, np.delete(X, 3, 0).mean(0))
    assert p.without("nothing like it") is p
    assert member_name("src/x/Neon_City.txt") == "neon city"


def test_save_load_roundtrip_and_errors(tmp_path):
    X, names = _population()
    p = fit_prior(X, names, embedder="hashing:10", words=X / np.linalg.norm(X, axis=1, keepdims=True))
    q = Prior.load(p.save(tmp_path / "p.npz"))
    np.testing.assert_allclose(q.theta_precision(), p.theta_precision())
    assert q.names == p.names and q.words_weight == p.words_weight and q.embedder == "hashing:10"
    with pytest.raises(EdpbrlError, match="prior file not found"):
        Prior.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(EdpbrlError, match="cannot read prior file"):
        Prior.load(tmp_path / "junk.npz")
    with pytest.raises(EdpbrlError, match="at least 2 members"):
        fit_prior(X[:1], names[:1], embedder="x")


def test_resolve_checks_the_encoder(tmp_path):
    emb = HashingEmbedder(10)
    X, names = _population()
    path = fit_prior(X, names, embedder="hashing:10").save(tmp_path / "p.npz")
    assert resolve_prior("none", emb) is None and resolve_prior(None, emb) is None
    assert resolve_prior(str(path), emb).dim == 10
    with pytest.raises(EdpbrlError, match="dimension 10 but the session's encoder gives 16"):
        resolve_prior(path, HashingEmbedder(16))
    wrong = fit_prior(X, names, embedder="minilm")
    with pytest.raises(EdpbrlError, match="fitted with the 'minilm' encoder"):
        resolve_prior(wrong, emb)


@pytest.fixture
def style_prior():
    emb = HashingEmbedder(32)
    styles = [
        "sunny",
        "cozy_autumn",
        "cyberpunk",
        "noir",
        "underwater",
        "medieval",
        "fairytale",
        "minimalist",
    ]
    return prior_from_styles(styles, emb), emb


def test_personalizer_uses_the_prior_for_estimation_and_design(style_prior, tiny_vocab_dir):
    prior, emb = style_prior
    p = Personalizer.default(k=3, episodes=3, vocabulary=str(tiny_vocab_dir), embedder=emb, prior=prior,
                             words="warm golden sunshine", method="ed-pbrl-mixture")  # fmt: skip
    e = emb.encode(["warm golden sunshine"])[0]
    np.testing.assert_allclose(
        p.fit(), prior.scale * (prior.mean_weight * prior.mean + prior.words_weight * e)
    )
    assert p.config["prior"] == "object" and p.config["words"] == "warm golden sunshine"
    while (q := p.ask()) is not None:
        p.tell(q, 0)
    theta = p.fit()  # (option features are encoded lazily, by the first estimate that needs them)
    answers = [r.features for r in p.records]
    P = p.ctx.prior_precision.numpy()
    ref = fit_mle(
        np.stack(answers), np.zeros(len(answers), dtype=int), 1.0, prior=P, prior_mean=p.prior.theta_mean()
    )
    np.testing.assert_allclose(theta, ref.theta.numpy(), rtol=1e-6)
    flat = Personalizer.default(
        k=3, episodes=3, vocabulary=str(tiny_vocab_dir), embedder=emb, method="ed-pbrl-mixture"
    )
    assert not torch.allclose(p.design.information, flat.design.information)  # Σ⁻¹ in place of λI
    # the design's information is T·Σ_h Cov + the prior's precision (not + λI): the rest is PSD
    rest = (p.design.information - p.ctx.prior_precision).numpy()
    assert np.linalg.eigvalsh(0.5 * (rest + rest.T)).min() > -1e-8
    with pytest.raises(EdpbrlError, match="give a prior too"):
        Personalizer.default(k=3, episodes=1, vocabulary=str(tiny_vocab_dir), embedder=emb, words="sunny")


def test_no_prior_is_exactly_the_flat_prior(tiny_vocab_dir):
    a = Personalizer.default(k=3, episodes=3, vocabulary=str(tiny_vocab_dir), embedder="hashing:16")
    b = Personalizer.default(
        k=3, episodes=3, vocabulary=str(tiny_vocab_dir), embedder="hashing:16", prior="none"
    )
    assert [q.options for q in a._questions] == [q.options for q in b._questions]
    assert b.prior is None and b.ctx.prior_precision is None


def test_packaged_prior_is_fitted_once_when_many_sessions_ask_at_once(monkeypatch):
    """Sessions created while the server warms up all ask for the packaged prior: one fits it, the
    others wait for it (a server once fitted it 20 times over, 1.6 s of CPU per person)."""
    import threading
    import time

    import edpbrl.prior as prior_mod

    calls = []

    def slow_fit(styles, embedder):
        calls.append(1)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(prior_mod, "prior_from_styles", slow_fit)
    monkeypatch.setattr(prior_mod, "_PACKAGED", {})
    emb = HashingEmbedder(dim=8)
    got = []
    threads = [threading.Thread(target=lambda: got.append(prior_mod.packaged_prior(emb))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(got) == 6 and all(g is got[0] for g in got)
