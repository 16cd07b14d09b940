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


def _worded_population(n=40, d=12, seed=3):
    """Members whose taste is a shared mean plus a linear function of their words' embedding plus a
    little noise: what the words map should learn."""
    rng = np.random.default_rng(seed)
    E = rng.normal(size=(n, d))
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    W = rng.normal(size=(d, d)) * 0.3
    X = 0.5 + E @ W.T + 0.01 * rng.normal(size=(n, d))
    return X, E, W


def test_words_map_predicts_held_out_members_from_their_words():
    """The map is learned on the others and predicts a left-out member far better than the two
    weights alone (which cannot express a linear map other than a multiple of the identity)."""
    X, E, W = _worded_population()
    names = [f"s{i}" for i in range(len(X))]
    err_map, err_two = [], []
    for i in range(8):
        keep = [j for j in range(len(X)) if j != i]
        kw = dict(embedder="hashing:12", words=E[keep])
        with_map = fit_prior(X[keep], [names[j] for j in keep], words_map=True, **kw)
        two = fit_prior(X[keep], [names[j] for j in keep], **kw)
        assert two.words_map is None and with_map.words_map.shape == (12, 12)
        err_map.append(np.linalg.norm(with_map.with_words(E[i]).mean - X[i]))
        err_two.append(np.linalg.norm(two.with_words(E[i]).mean - X[i]))
    assert np.mean(err_map) < 0.3 * np.mean(err_two)
    full = fit_prior(X, names, embedder="hashing:12", words=E, words_map=True)
    e = E[0]
    np.testing.assert_allclose(
        full.with_words(e).mean, full.mean_weight * full.mean + full.words_weight * e + full.words_map @ e
    )
    assert full.words_alpha in {float(a) for a in np.logspace(-3, 3, 13)}


def test_words_map_matches_a_direct_ridge_fit_on_the_residuals():
    """W is the ridge regression (penalty chosen by leave-one-out) of θ* − a·m₋ⱼ − b·eⱼ on eⱼ,
    checked against the closed form (EᵀE + αI)⁻¹EᵀR at the chosen α."""
    X, E, _ = _worded_population(n=25, d=6, seed=5)
    p = fit_prior(X, [f"s{i}" for i in range(25)], embedder="hashing:6", words=E, words_map=True)
    others = (X.sum(0)[None] - X) / 24
    R = X - p.mean_weight * others - p.words_weight * E
    ref = np.linalg.solve(E.T @ E + p.words_alpha * np.eye(6), E.T @ R).T
    np.testing.assert_allclose(p.words_map, ref, atol=1e-10)


def test_words_map_survives_files_and_leave_one_out(tmp_path):
    X, E, _ = _worded_population()
    names = [f"s{i}" for i in range(len(X))]
    p = fit_prior(X, names, embedder="hashing:12", words=E, words_map=True)
    q = Prior.load(p.save(tmp_path / "p.npz"))
    np.testing.assert_allclose(q.words_map, p.words_map)
    assert q.words_alpha == p.words_alpha and q.fit_words_map
    assert p.without("s3").words_map is not None
    off = fit_prior(X, names, embedder="hashing:12", words=E)
    r = Prior.load(off.save(tmp_path / "off.npz"))
    assert r.words_map is None and not r.fit_words_map and r.without("s3").words_map is None


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
    assert prior.words_map is None  # the packaged default: two weights
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
    # fewer option rows than dimensions: the fit used the prior's low-rank covariance (Woodbury)
    assert len(answers) * 3 < p.dim and p.fit_result().prior_factors is not None
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
    monkeypatch.setattr(prior_mod, "_packaged_prior_path", lambda emb: None)  # no disk copy
    emb = HashingEmbedder(dim=8)
    got = []
    threads = [threading.Thread(target=lambda: got.append(prior_mod.packaged_prior(emb))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(got) == 6 and all(g is got[0] for g in got)


def test_prior_from_styles_encodes_once_and_matches_per_style_thetas():
    """One encoder call holds every sentence and name (so an encoder that keeps large calls on
    disk serves the whole fit after a restart); the population mean equals that of θ* encoded
    style by style."""
    from edpbrl.users import read_style, style_theta

    inner = HashingEmbedder(32)
    calls = []

    class Counting:
        name, dim = inner.name, inner.dim

        def encode(self, texts):
            calls.append(list(texts))
            return inner.encode(texts)

    styles = ["sunny", "noir", "medieval"]
    prior = prior_from_styles(styles, Counting())
    sentences = [t for s in styles for t in read_style(s)]
    assert calls == [sentences + [member_name(s) for s in styles]]
    thetas = np.stack([style_theta(read_style(s), inner) for s in styles])
    np.testing.assert_allclose(prior.mean, thetas.mean(0), atol=1e-12)


def test_packaged_prior_is_kept_on_disk_and_refitted_when_the_file_is_broken(tmp_path, monkeypatch):
    """A restarted process loads the packaged prior from the cache directory (no encoder call, no
    fit), equal to the fitted one; a broken file is refitted and rewritten; a caller's own encoder
    object (no spec) gets no file."""
    import edpbrl.prior as prior_mod
    from edpbrl.app.sessions import SharedEmbedder
    from edpbrl.embed import embedder_spec

    monkeypatch.setenv("EDPBRL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(prior_mod, "_PACKAGED", {})
    fitted = prior_mod.packaged_prior(SharedEmbedder(HashingEmbedder(32)))  # the app's wrapper
    files = list((tmp_path / "priors").glob("packaged-*.npz"))
    assert len(files) == 1
    # it records the wrapped encoder's spec, so a process with the plain encoder accepts the file
    assert fitted.embedder == embedder_spec(HashingEmbedder(32))
    resolve_prior(Prior.load(files[0]), HashingEmbedder(32))

    class Refuses:
        name, dim = HashingEmbedder(32).name, 32

        def encode(self, texts):
            raise AssertionError("the packaged prior should come from disk")

    monkeypatch.setattr(prior_mod, "_PACKAGED", {})
    monkeypatch.setattr(prior_mod, "_packaged_prior_path", lambda emb: files[0])
    loaded = prior_mod.packaged_prior(Refuses())
    for field in ("mean", "components", "variances", "population", "words"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(fitted, field))
    assert (loaded.names, loaded.words_weight, loaded.noise) == (
        fitted.names,
        fitted.words_weight,
        fitted.noise,
    )
    monkeypatch.undo()
    monkeypatch.setenv("EDPBRL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(prior_mod, "_PACKAGED", {})
    files[0].write_bytes(b"not a prior")
    again = prior_mod.packaged_prior(HashingEmbedder(32))
    np.testing.assert_array_equal(again.mean, fitted.mean)
    assert Prior.load(files[0]).names == fitted.names  # rewritten
    assert prior_mod._packaged_prior_path(Refuses()) is None
