"""The K-policy design (the paper's): its information against exact enumeration, its gradient
against autograd, its blocks against cvxpy, its solutions against exhaustive search over
deterministic policies and against the concave relaxation's bound."""

from __future__ import annotations

import itertools

import cvxpy as cp
import numpy as np
import pytest
import torch

from edpbrl.design.criteria import interchange_matrix, make_criterion
from edpbrl.design.information import covariance_sum, query_fisher
from edpbrl.design.kpolicy import block_problem, kpolicy_design, kpolicy_gradient, kpolicy_information
from edpbrl.design.solvers import solve_design
from edpbrl.errors import DesignError
from edpbrl.mdp import PromptMDP, TabularMDP
from edpbrl.vocab import Vocabulary


def _prompt_mdp(seed=0, sizes=(4, 5, 3), d=4):
    rng = np.random.default_rng(seed)
    vocab = Vocabulary({f"s{h}": [f"t{h}{i}" for i in range(n)] for h, n in enumerate(sizes)})
    feats = [rng.normal(size=(n, d)) * np.linspace(1, 0.3, d) for n in sizes]
    return PromptMDP(vocab, feats)


def _random_policies(mdp, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    D = torch.rand(K, mdp.features.shape[0], generator=g, dtype=torch.float64) + 0.05
    for h in range(mdp.offsets.numel() - 1):
        sl = slice(int(mdp.offsets[h]), int(mdp.offsets[h + 1]))
        D[:, sl] /= D[:, sl].sum(1, keepdim=True)
    return D


def _crit(name, mdp, lam=0.5):
    V = interchange_matrix(mdp.features, mdp.offsets) if name == "V" else None
    return make_criterion(name, V=V, dim=mdp.features.shape[1], scale=lam)


def test_information_is_the_exact_expected_fisher_by_enumeration():
    """Tiny tabular MDP, K = 3 stochastic policies: Σ_h E[Fisher of the step-h question at θ = 0]
    over all K-tuples of trajectories equals T⁻¹(M − 0) computed from the visitation measures."""
    rng = np.random.default_rng(0)
    S, A, H, d, K = 2, 2, 2, 3, 3
    P = rng.random((S, A, S))
    P /= P.sum(2, keepdims=True)
    rho = np.array([0.6, 0.4])
    mdp = TabularMDP(P, rho, H, rng.normal(size=(H, S, A, d)))
    pis = [torch.as_tensor(rng.dirichlet(np.ones(A), size=(H, S))) for _ in range(K)]
    D = torch.stack([mdp.visitation(pi).flatten() for pi in pis])
    M = kpolicy_information(mdp.features, D, mdp.offsets, T=1.0)

    # every trajectory of every policy: probability (K, 16) and features per step (16, H, d)
    F = mdp.features.reshape(H, S, A, d).numpy()
    paths = list(itertools.product(range(S), range(A), range(S), range(A)))
    feats = np.array([[F[0, s0, a0], F[1, s1, a1]] for s0, a0, s1, a1 in paths])
    probs = np.array(
        [
            [
                rho[s0] * float(pi[0, s0, a0]) * P[s0, a0, s1] * float(pi[1, s1, a1])
                for s0, a0, s1, a1 in paths
            ]  # noqa: E501
            for pi in pis
        ]
    )
    idx = np.array(list(itertools.product(range(len(paths)), repeat=K)))  # (n, K) every K-tuple
    weight = np.prod([probs[q, idx[:, q]] for q in range(K)], axis=0)  # (n,)
    expected = torch.zeros(d, d, dtype=torch.float64)
    for h in range(H):
        X = torch.as_tensor(feats[idx, h])  # (n, K, d): the K options of the step-h question
        xbar = X.mean(1)
        per = torch.einsum("nkd,nke->nde", X, X) / K - torch.einsum("nd,ne->nde", xbar, xbar)
        expected += torch.einsum("n,nde->de", torch.as_tensor(weight), per)
        assert torch.allclose(per[0], query_fisher(X[:1]))  # the same Fisher as the estimator's
    torch.testing.assert_close(M, expected, atol=1e-12, rtol=1e-10)


def test_equal_policies_give_k_minus_one_over_k_of_the_mixture_covariance():
    mdp = _prompt_mdp()
    w = _random_policies(mdp, 1)[0]
    for K in (2, 3, 5):
        M = kpolicy_information(mdp.features, w[None].repeat(K, 1), mdp.offsets, T=7.0)
        torch.testing.assert_close(M, 7.0 * (K - 1) / K * covariance_sum(mdp.features, w, mdp.offsets))


def test_between_and_within_decomposition_and_relaxation_bound():
    """Z = (K−1)/K·W + B ⪯ Cov(mixture) = W + B."""
    mdp = _prompt_mdp(1)
    K = 4
    D = _random_policies(mdp, K, seed=3)
    Phi, off = mdp.features, mdp.offsets
    M = kpolicy_information(Phi, D, off, T=1.0)
    W = sum(covariance_sum(Phi, D[q], off) for q in range(K)) / K
    mix = covariance_sum(Phi, D.mean(0), off)
    Bm = mix - W
    torch.testing.assert_close(M, (K - 1) / K * W + Bm)
    assert float(torch.linalg.eigvalsh(mix - M).min()) >= -1e-12  # Cov(mixture) − Z = W/K ⪰ 0


@pytest.mark.parametrize("name", ["A", "D", "V", "E"])
def test_gradient_matches_autograd(name):
    mdp = _prompt_mdp(2)
    crit = _crit(name, mdp)
    D = _random_policies(mdp, 3, seed=1)
    base = 0.5 * torch.eye(4, dtype=torch.float64)
    f, _, g = kpolicy_gradient(crit, mdp.features, D, mdp.offsets, 6.0, base)
    Dv = D.clone().requires_grad_(True)
    M = kpolicy_information(mdp.features, Dv, mdp.offsets, 6.0, base)
    fa = crit.value_and_grad(M, grad=False)[0]
    (ga,) = torch.autograd.grad(fa, Dv)
    assert f == pytest.approx(float(fa.detach()))
    torch.testing.assert_close(g, ga, atol=1e-9, rtol=1e-7)


def test_a_block_is_a_linear_design_problem_equal_to_the_joint_information():
    mdp = _prompt_mdp(3)
    crit = _crit("A", mdp)
    D = _random_policies(mdp, 3, seed=2)
    base = 0.5 * torch.eye(4, dtype=torch.float64)
    M = kpolicy_information(mdp.features, D, mdp.offsets, 5.0, base)
    pb = block_problem(crit, mdp.features, D, mdp.offsets, 5.0, M, q=1)
    torch.testing.assert_close(pb.evaluate(D[1]).M, M)
    other = _random_policies(mdp, 1, seed=9)[0]  # any other d_1: still equal (block-linear)
    D2 = D.clone()
    D2[1] = other
    torch.testing.assert_close(
        pb.evaluate(other).M, kpolicy_information(mdp.features, D2, mdp.offsets, 5.0, base)
    )


def test_the_k_policy_objective_is_not_jointly_concave():
    """K = 2, one binary feature: E(x₁ − x₂)² = p + r − 2pr is a saddle. The midpoint of two
    optimal designs is worse than both: no concavity, so the FW gap certifies stationarity only."""
    vocab = Vocabulary({"s": ["a", "b"]})
    mdp = PromptMDP(vocab, [np.array([[1.0], [0.0]])])
    crit = make_criterion("D", dim=1)
    base = 0.1 * torch.eye(1, dtype=torch.float64)

    def f(p, r):
        D = torch.tensor([[p, 1 - p], [r, 1 - r]], dtype=torch.float64)
        return crit.value(kpolicy_information(mdp.features, D, mdp.offsets, 10.0, base)).item()

    assert f(1, 0) == pytest.approx(f(0, 1))
    assert f(0.5, 0.5) < 0.5 * (f(1, 0) + f(0, 1)) - 0.5


def _cvx_block_optimum(pb, name):
    """The block's optimum by cvxpy: max f(B + T Σ_i w_i ũ_i ũ_iᵀ) over the product of simplices."""
    U = pb.centred(torch.arange(pb.Phi.shape[0]), None).numpy()
    B = pb.base.numpy()
    off = [int(o) for o in pb.offsets]
    w = cp.Variable(U.shape[0], nonneg=True)
    M = B + pb.T * (U.T @ cp.diag(w) @ U)
    M = (M + M.T) / 2
    cons = [cp.sum(w[off[h] : off[h + 1]]) == 1 for h in range(len(off) - 1)]
    if name == "D":
        prob = cp.Problem(cp.Maximize(cp.log_det(M)), cons)
    else:
        prob = cp.Problem(cp.Minimize(cp.matrix_frac(np.eye(B.shape[0]), M)), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value if name == "D" else -prob.value


@pytest.mark.parametrize("name", ["A", "D"])
def test_solution_is_block_optimal_by_cvxpy_and_within_the_relaxation_bound(name):
    mdp = _prompt_mdp(4)
    T, lam, K = 8.0, 0.5, 3
    des = kpolicy_design(mdp, k=K, criterion=name, episodes=T, lam=lam, tol=1e-9, max_iter=400)
    c = des.certificate
    assert c.optimality == "stationary" and c.converged and c.relative_gap <= 1e-9
    crit = _crit(name, mdp, lam)
    M = kpolicy_information(
        mdp.features, des.policies, mdp.offsets, T, lam * torch.eye(4, dtype=torch.float64)
    )
    assert crit.value(M).item() == pytest.approx(c.objective)
    for q in range(K):  # no block can improve on its own: each equals its cvxpy optimum
        pb = block_problem(crit, mdp.features, des.policies, mdp.offsets, T, M, q)
        assert _cvx_block_optimum(pb, name) == pytest.approx(c.objective, abs=1e-6 * abs(c.objective) + 1e-7)
    # the relaxation (the concave mixture design) bounds f*, and the i.i.d. use of the mixture
    # design (equal policies, (K−1)/K of its information) is beaten
    mix = solve_design(mdp, criterion=name, episodes=T, lam=lam, tol=1e-10)
    assert c.upper_bound == pytest.approx(mix.certificate.objective, abs=1e-7)
    assert c.objective <= c.upper_bound
    iid = crit.value(kpolicy_information(mdp.features, mix.weights[None].repeat(K, 1), mdp.offsets, T,
                                         lam * torch.eye(4, dtype=torch.float64))).item()  # fmt: skip
    assert c.objective > iid


@pytest.mark.parametrize("name", ["A", "D"])
def test_beats_every_tuple_of_deterministic_policies(name):
    """Exhaustive search over all K-tuples of vertices (one token per slot per policy)."""
    mdp = _prompt_mdp(5, sizes=(3, 3, 2), d=3)
    T, lam, K = 6.0, 0.3, 2
    des = kpolicy_design(mdp, k=K, criterion=name, episodes=T, lam=lam, tol=1e-9, max_iter=400)
    crit = _crit(name, mdp, lam)
    base = lam * torch.eye(3, dtype=torch.float64)
    vertices = list(itertools.product(range(3), range(3), range(2)))
    best = -np.inf
    for combo in itertools.product(vertices, repeat=K):
        D = torch.stack([mdp.vertex_visitation(v) for v in combo])
        best = max(best, crit.value(kpolicy_information(mdp.features, D, mdp.offsets, T, base)).item())
    assert des.certificate.objective >= best - 1e-9
    assert des.certificate.objective <= des.certificate.upper_bound


def test_equal_policies_are_a_saddle_that_the_split_start_avoids():
    """Every policy equal to the mixture design solved for T(K−1)/K episodes is a stationary
    point (its FW gap vanishes: the mixture's optimality conditions) but not the optimum."""
    mdp = _prompt_mdp(6)
    K, T, lam = 3, 10.0, 0.5
    mix = solve_design(mdp, criterion="A", episodes=T * (K - 1) / K, lam=lam, tol=1e-12)
    kw = dict(k=K, criterion="A", episodes=T, lam=lam, tol=1e-7, max_iter=300)
    stuck = kpolicy_design(mdp, init=mix.weights[None].repeat(K, 1), **kw)
    good = kpolicy_design(mdp, **kw)
    assert stuck.certificate.iterations == 0 and stuck.certificate.relative_gap <= 1e-7
    assert stuck.certificate.objective == pytest.approx(mix.certificate.objective)
    assert good.certificate.objective > stuck.certificate.objective + 1e-2


def test_general_mdp_block_frank_wolfe():
    rng = np.random.default_rng(1)
    S, A, H, d, K = 2, 2, 2, 3, 2
    P = rng.random((S, A, S)) ** 2
    P /= P.sum(2, keepdims=True)
    mdp = TabularMDP(P, np.array([1.0, 0.0]), H, rng.normal(size=(H, S, A, d)))
    T, lam = 5.0, 0.3
    des = kpolicy_design(mdp, k=K, criterion="D", episodes=T, lam=lam, tol=1e-6, max_iter=2000, inner=5)
    c = des.certificate
    assert c.converged and c.objective <= c.upper_bound + 1e-9
    for q in range(K):  # each policy's visitation is feasible: one unit of mass per step
        assert torch.allclose(des.policies[q].reshape(H, -1).sum(1), torch.ones(H, dtype=torch.float64))
    crit = make_criterion("D", dim=d)
    base = lam * torch.eye(d, dtype=torch.float64)
    best = -np.inf
    policies = list(itertools.product(range(A), repeat=H * S))
    for combo in itertools.product(policies, repeat=K):
        D = torch.stack([mdp.vertex_visitation(p) for p in combo])
        best = max(best, crit.value(kpolicy_information(mdp.features, D, mdp.offsets, T, base)).item())
    assert c.objective >= best - 1e-6


def test_input_errors():
    mdp = _prompt_mdp()
    with pytest.raises(DesignError, match="K must be an integer ≥ 2"):
        kpolicy_design(mdp, k=1)
    with pytest.raises(DesignError, match="init must be"):
        kpolicy_design(mdp, k=2, init=torch.zeros(3, 5))
    with pytest.raises(DesignError, match="unknown init"):
        kpolicy_design(mdp, k=2, init="magic")
    with pytest.raises(DesignError, match="λ must be > 0"):
        kpolicy_design(mdp, k=2, lam=0)
