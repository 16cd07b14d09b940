"""MNL estimator: gradients vs autograd, known-θ recovery, agreement with choix, bad input."""

import choix
import numpy as np
import pytest
import torch

from edpbrl.choice import (
    confidence_ellipsoid,
    fisher_information,
    fit_mle,
    log_likelihood,
    prior_terms,
    probabilities,
)
from edpbrl.errors import EdpbrlError


def _simulate(theta, n, K, seed=0):
    rng = np.random.default_rng(seed)
    d = theta.size
    X = rng.normal(size=(n, K, d)) / np.sqrt(d)
    U = X @ theta
    P = np.exp(U - U.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P])
    return X, y


def test_fisher_is_negative_hessian_of_log_likelihood():
    rng = np.random.default_rng(0)
    X, y = _simulate(rng.normal(size=4), 30, 3)
    theta = torch.tensor(rng.normal(size=4), requires_grad=True)
    H = torch.autograd.functional.hessian(lambda t: log_likelihood(t, X, y), theta)
    assert torch.allclose(-H, fisher_information(theta.detach(), X), atol=1e-10)


def test_mle_recovers_known_theta():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=8)
    theta *= 3 / np.linalg.norm(theta)
    X, y = _simulate(theta, 20000, 4, seed=2)
    res = fit_mle(X, y, lam=1e-3)
    th = res.theta.numpy()
    assert res.converged and res.iterations < 20
    assert th @ theta / np.linalg.norm(th) / np.linalg.norm(theta) > 0.99
    ell = confidence_ellipsoid(res, 0.99)
    assert ell.contains(theta)


def test_mle_stationarity_and_matches_choix_on_item_data():
    """One-hot features: MNL top-1 MLE with λ/2‖θ‖² is exactly choix.opt_top1 with alpha=λ/2."""
    rng = np.random.default_rng(3)
    n_items, K, lam = 6, 3, 0.5
    true = rng.normal(size=n_items)
    X, y, data = [], [], []
    for _ in range(400):
        items = rng.choice(n_items, size=K, replace=False)
        p = np.exp(true[items]) / np.exp(true[items]).sum()
        k = rng.choice(K, p=p)
        X.append(np.eye(n_items)[items])
        y.append(k)
        data.append((int(items[k]), [int(i) for i in items if i != items[k]]))
    res = fit_mle(np.array(X), np.array(y), lam=lam)
    ref = choix.opt_top1(n_items, data, alpha=lam / 2, tol=1e-12)  # choix: alpha·‖θ‖²
    assert np.allclose(res.theta.numpy(), ref, atol=1e-5)
    assert res.grad_norm < 1e-6


def test_probabilities_sum_to_one():
    X, _ = _simulate(np.ones(3), 5, 4)
    P = probabilities(np.ones(3), X)
    assert torch.allclose(P.sum(1), torch.ones(5, dtype=P.dtype))


def test_bad_inputs():
    X, y = _simulate(np.ones(3), 5, 4)
    with pytest.raises(EdpbrlError, match="λ must be > 0"):
        fit_mle(X, y, lam=0)
    with pytest.raises(EdpbrlError, match=r"shape \(n, K, d\)"):
        fit_mle(X[0], y, lam=1)
    with pytest.raises(EdpbrlError, match="range"):
        fit_mle(X, y + 4, lam=1)
    Xn = X.copy()
    Xn[0, 0, 0] = np.nan
    with pytest.raises(EdpbrlError, match="NaN"):
        fit_mle(Xn, y, lam=1)
    with pytest.raises(EdpbrlError, match="choices must have shape"):
        fit_mle(X, y[:3], lam=1)
    # y = None reached Newton's method and failed there with a TypeError (property tests)
    from edpbrl.choice import log_likelihood

    with pytest.raises(EdpbrlError, match="^choices y are missing"):
        fit_mle(X, None, lam=1)
    with pytest.raises(EdpbrlError, match="^choices y are missing"):
        log_likelihood(np.zeros(3), X, None)


@pytest.mark.parametrize("n", [3, 40])
def test_low_rank_paths_match_dense_solves(n):
    """With the identity prior and fewer option rows than dimensions, the Newton steps and the
    posterior standard deviations use n·K-sized systems (Woodbury); they must agree with dense
    d-sized solves (and fall back to them when n·K ≥ d)."""
    from edpbrl.choice import confidence_ellipsoid

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3, 24))
    y = rng.integers(0, 3, size=n)
    res = fit_mle(X, y, 0.7)
    dense = fit_mle(X, y, 0.7, prior=np.eye(24))  # the general path
    np.testing.assert_allclose(res.theta.numpy(), dense.theta.numpy(), atol=1e-8)
    np.testing.assert_allclose(res.hessian.numpy(), dense.hessian.numpy(), atol=1e-10)
    if n * 3 < 24:  # kept as a factor: AᵀA + λI
        assert res.dense is None
        A = res.factor.numpy()
        np.testing.assert_allclose(A.T @ A + 0.7 * np.eye(24), res.hessian.numpy(), atol=1e-10)
    else:
        assert res.factor is None and res.dense is not None
    V = rng.normal(size=(50, 24))
    want = np.sqrt(np.einsum("md,de,me->m", V, np.linalg.inv(res.hessian.numpy()), V))
    np.testing.assert_allclose(confidence_ellipsoid(res).std(V).numpy(), want, rtol=1e-8)
    # with a prior given, a small fit is kept as A and P too; its ellipsoid solves densely
    assert (dense.factor is not None) == (dense.prior is not None) == (n * 3 < 24)
    np.testing.assert_allclose(confidence_ellipsoid(dense).std(V).numpy(), want, rtol=1e-8)


def test_map_with_a_prior_mean_matches_a_generic_optimiser():
    """MAP under N(m, (λP)⁻¹) against scipy's BFGS on the same objective; no data gives m."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    n, K, d = 40, 3, 5
    X = rng.normal(size=(n, K, d))
    y = rng.integers(K, size=n)
    A = rng.normal(size=(d, d))
    P = A @ A.T / d + 0.3 * np.eye(d)
    m = rng.normal(size=d)
    lam = 2.0

    def objective(t):
        u = X @ t
        u = u - u.max(1, keepdims=True)
        ll = (u[np.arange(n), y] - np.log(np.exp(u).sum(1))).sum()
        r = t - m
        return -ll + 0.5 * lam * r @ P @ r

    ref = minimize(objective, np.zeros(d), method="BFGS", options={"gtol": 1e-10}).x
    res = fit_mle(X, y, lam, prior=P, prior_mean=m)
    assert res.converged
    np.testing.assert_allclose(res.theta.numpy(), ref, atol=1e-5)
    empty = fit_mle(np.zeros((0, K, d)), np.zeros(0, dtype=int), lam, prior=P, prior_mean=m)
    np.testing.assert_allclose(empty.theta.numpy(), m)
    np.testing.assert_allclose(empty.hessian.numpy(), lam * P, atol=1e-12)
    with pytest.raises(EdpbrlError, match="prior mean must be a finite vector"):
        fit_mle(X, y, lam, prior_mean=np.full(d, np.nan))


def test_low_rank_path_with_a_prior_mean_matches_the_dense_path():
    """The Woodbury (n·K < d) Newton steps and a prior mean: the same MAP as the dense solve."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(4, 3, 30))
    y = rng.integers(0, 3, size=4)
    m = rng.normal(size=30)
    res = fit_mle(X, y, 0.5, prior_mean=m)
    dense = fit_mle(X, y, 0.5, prior=np.eye(30), prior_mean=m)
    assert res.dense is None and res.factor is not None
    np.testing.assert_allclose(res.theta.numpy(), dense.theta.numpy(), atol=1e-8)


def test_map_with_a_prior_keeps_the_posterior_precision_low_rank():
    """With a prior precision P and fewer option rows than dimensions the fit keeps A (n·K, d) and
    a reference to P, not the d × d matrix: its Hessian equals the MNL Fisher at θ̂ + λP (the
    independent dense formula), and the ellipsoid's standard deviations equal vᵀH⁻¹v from an
    explicit inverse."""
    import torch

    rng = np.random.default_rng(5)
    n, K, d = 6, 4, 40
    X, y = rng.normal(size=(n, K, d)), rng.integers(K, size=n)
    B = rng.normal(size=(d, d))
    P = torch.as_tensor(B @ B.T / d + 0.2 * np.eye(d))
    res = fit_mle(X, y, 0.7, prior=P, prior_mean=rng.normal(size=d))
    assert res.dense is None and res.factor.shape == (n * K, d) and res.prior is P  # shared, not copied
    H = fisher_information(res.theta, X) + 0.7 * P
    np.testing.assert_allclose(res.hessian.numpy(), H.numpy(), atol=1e-10)
    V = rng.normal(size=(7, d))
    ref = np.sqrt(np.einsum("md,de,me->m", V, np.linalg.inv(H.numpy()), V))
    np.testing.assert_allclose(confidence_ellipsoid(res).std(V).numpy(), ref, rtol=1e-8)
    big = fit_mle(rng.normal(size=(20, K, d)), rng.integers(K, size=20), 0.7, prior=P)
    assert big.dense is not None and big.factor is None and big.prior is None  # n·K ≥ d: dense


def _low_rank_prior(rng, d, r, lam):
    """(c, B, P): a covariance cI + BBᵀ (d, d) and P with λP its inverse (explicit, for reference)."""
    c, B = 0.3, rng.normal(size=(d, r)) / np.sqrt(r)
    P = np.linalg.inv(c * np.eye(d) + B @ B.T) / lam
    return c, B, 0.5 * (P + P.T)


@pytest.mark.parametrize("lam", [1.0, 0.4])
def test_prior_factors_give_the_dense_prior_s_estimate_and_standard_deviations(lam):
    """With the prior's covariance given in low-rank form the Newton steps and the ellipsoid's
    standard deviations solve n·K-sized systems (Woodbury); θ̂, the iterations and vᵀH⁻¹v are those
    of the dense prior precision, and vᵀH⁻¹v matches an explicit inverse of the Hessian."""
    rng = np.random.default_rng(3)
    n, K, d = 7, 4, 50
    X, y = rng.normal(size=(n, K, d)) / 3, rng.integers(K, size=n)
    c, B, P = _low_rank_prior(rng, d, 6, lam)
    m = rng.normal(size=d)
    dense = fit_mle(X, y, lam, prior=P, prior_mean=m)
    fast = fit_mle(X, y, lam, prior=P, prior_mean=m, prior_factors=(c, B))
    assert fast.prior_factors is not None and dense.prior_factors is None
    np.testing.assert_allclose(fast.theta.numpy(), dense.theta.numpy(), atol=1e-10)
    assert fast.iterations == dense.iterations and fast.converged
    V = rng.normal(size=(9, d))
    H = fisher_information(fast.theta, X).numpy() + lam * P
    ref = np.sqrt(np.einsum("md,de,me->m", V, np.linalg.inv(H), V))
    np.testing.assert_allclose(confidence_ellipsoid(fast).std(V).numpy(), ref, rtol=1e-9)
    np.testing.assert_allclose(confidence_ellipsoid(dense).std(V).numpy(), ref, rtol=1e-9)
    # the prior's part computed once for many fits gives the same; terms of other directions are
    # not used for these
    terms = prior_terms((c, B), V)
    np.testing.assert_allclose(confidence_ellipsoid(fast).std(V, terms).numpy(), ref, rtol=1e-9)
    other = prior_terms((c, B), V[:4])
    np.testing.assert_allclose(confidence_ellipsoid(fast).std(V, other).numpy(), ref, rtol=1e-9)
    # the low-rank paths never form the d × d precision; contains() does, when asked
    ell = confidence_ellipsoid(fast)
    ell.std(V)
    assert ell.source is fast
    assert ell.contains(fast.theta.numpy()) and torch.equal(ell.precision, fast.hessian)
    # n·K ≥ d: the dense path, factors unused
    big = fit_mle(rng.normal(size=(20, K, d)), rng.integers(K, size=20), lam, prior=P, prior_factors=(c, B))
    assert big.dense is not None and big.prior_factors is None


def test_prior_factors_that_do_not_match_the_precision_are_an_error():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(3, 3, 20)), rng.integers(3, size=3)
    c, B, P = _low_rank_prior(rng, 20, 4, 1.0)
    with pytest.raises(EdpbrlError, match="do not match the prior precision"):
        fit_mle(X, y, 1.0, prior=P, prior_factors=(2 * c, B))
    with pytest.raises(EdpbrlError, match="do not match the prior precision"):
        fit_mle(X, y, 2.0, prior=P, prior_factors=(c, B))  # (λP)⁻¹, not P⁻¹
    with pytest.raises(EdpbrlError, match=r"prior_factors must be \(c > 0"):
        fit_mle(X, y, 1.0, prior=P, prior_factors=(c, B[:5]))
    with pytest.raises(EdpbrlError, match=r"prior_factors must be \(c > 0"):
        fit_mle(X, y, 1.0, prior=P, prior_factors=(-1.0, B))
    with pytest.raises(EdpbrlError, match=r"prior_factors must be \(c, B\)"):
        fit_mle(X, y, 1.0, prior=P, prior_factors=B)


@pytest.mark.parametrize("seed", range(4))
def test_newton_reaches_a_tight_tolerance_when_the_loss_cannot_resolve_the_last_steps(seed, monkeypatch):
    """Near the optimum of a stiff MAP (prior precision eigenvalues 1e-2 … 1e4) a Newton step
    lowers the loss by less than its rounding error. Made explicit here: the loss comes back with
    an error in [0, 1e-11)·|loss| that is a fixed pseudo-random function of θ, as the order of a
    multithreaded sum makes it; once a step lands where that error is small, the exact decrease
    of the next ones cannot make up for it. The fit must still reach
    ‖∇‖ ≤ tol·n with about one loss evaluation per step, not halve the step to nothing and stop
    short (as it once did: 100 iterations, 2,199 loss evaluations, ‖∇‖ 2.6e-9 at tol 1e-12)."""
    import hashlib

    import edpbrl.choice as choice

    calls = {"n": 0}
    inner = choice._loss_grad

    def rounded(theta, *args):
        calls["n"] += 1
        loss, grad, p = inner(theta, *args)
        u = int(hashlib.sha256(theta.numpy().tobytes()).hexdigest()[:12], 16) / 16**12
        return loss * (1 + 1e-11 * u), grad, p

    monkeypatch.setattr(choice, "_loss_grad", rounded)
    rng = np.random.default_rng(seed)
    n, K, d = 300, 4, 20
    X, theta = rng.normal(size=(n, K, d)), rng.normal(size=d)
    U = X @ theta
    p = np.exp(U - U.max(1, keepdims=True))
    y = np.array([rng.choice(K, p=q / q.sum()) for q in p])
    P = np.diag(np.logspace(-2, 4, d))
    res = fit_mle(X, y, 1.0, prior=P, prior_mean=np.ones(d), tol=1e-12)
    assert res.converged and res.grad_norm <= 1e-12 * n
    assert res.iterations <= 15 and calls["n"] <= 2 * res.iterations + 2
    monkeypatch.setattr(choice, "_loss_grad", inner)
    loose = fit_mle(X, y, 1.0, prior=P, prior_mean=np.ones(d))  # default tol: the same optimum
    np.testing.assert_allclose(res.theta.numpy(), loose.theta.numpy(), atol=1e-8)
