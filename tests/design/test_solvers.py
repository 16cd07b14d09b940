"""Design solvers against an independent convex solver (cvxpy/Clarabel) on small instances."""

import itertools

import numpy as np
import pytest
import torch

from edpbrl.design.solvers import frank_wolfe, multiplicative, solve_design
from edpbrl.errors import DesignError
from edpbrl.mdp import PromptMDP, TabularMDP
from edpbrl.vocab import Vocabulary

from ._reference import cvx_optimum


def _prompt_mdp(seed=0, sizes=(5, 4, 6), d=4):
    rng = np.random.default_rng(seed)
    vocab = Vocabulary({f"s{h}": [f"t{h}{i}" for i in range(n)] for h, n in enumerate(sizes)})
    feats = [rng.normal(size=(n, d)) * np.linspace(1, 0.2, d) for n in sizes]
    return PromptMDP(vocab, feats)


@pytest.mark.parametrize("criterion", ["A", "D"])
@pytest.mark.parametrize("variant", ["pairwise", "away"])
def test_frank_wolfe_prompt_mdp_matches_cvxpy(criterion, variant):
    mdp = _prompt_mdp()
    T, lam = 10.0, 0.5
    ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), T, lam, criterion)
    des = frank_wolfe(
        mdp, criterion=criterion, episodes=T, lam=lam, variant=variant, tol=1e-9, max_iter=20000
    )
    c = des.certificate
    assert c.converged and c.relative_gap <= 1e-9
    assert c.objective == pytest.approx(ref, rel=1e-6)
    assert ref - c.objective <= c.gap + 1e-7 * abs(ref)  # the gap bounds the suboptimality


@pytest.mark.parametrize("criterion", ["A", "D"])
def test_multiplicative_matches_cvxpy(criterion):
    mdp = _prompt_mdp(1)
    T, lam = 20.0, 0.1
    ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), T, lam, criterion)
    des = multiplicative(mdp, criterion=criterion, episodes=T, lam=lam, tol=1e-8, max_iter=20000)
    assert des.certificate.relative_gap <= 1e-8
    assert des.certificate.objective == pytest.approx(ref, rel=1e-6)
    for h in range(3):  # feasibility
        assert float(des.step_weights(h).sum()) == pytest.approx(1.0, abs=1e-10)
        assert float(des.step_weights(h).min()) >= 0


def test_vanilla_frank_wolfe_gap_certifies():
    mdp = _prompt_mdp(2)
    ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), 10.0, 0.5, "A")
    # the gap bounds the suboptimality at any iterate: a few hundred sublinear steps suffice to test it
    des = frank_wolfe(mdp, criterion="A", episodes=10, lam=0.5, variant="vanilla", tol=1e-5, max_iter=300)
    assert ref - des.certificate.objective <= des.certificate.gap + 1e-9
    assert ref - des.certificate.objective >= -1e-9


def _tiny_tabular(seed=0, S=3, A=2, H=3, d=3):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 3
    P /= P.sum(2, keepdims=True)
    feats = rng.normal(size=(H, S, A, d))
    rho = np.array([1.0] + [0.0] * (S - 1))
    return TabularMDP(P, rho, H, feats), P, rho


def test_tabular_frank_wolfe_matches_cvxpy_with_flow_constraints():
    mdp, P, rho = _tiny_tabular()
    S, A, H = 3, 2, 3
    T, lam = 5.0, 0.3

    def flow(w):
        d = [w[h * S * A : (h + 1) * S * A] for h in range(H)]
        cons = []
        for s in range(S):
            cons.append(sum(d[0][s * A + a] for a in range(A)) == rho[s])
        for h in range(H - 1):
            for s2 in range(S):
                inflow = sum(P[s, a, s2] * d[h][s * A + a] for s in range(S) for a in range(A))
                cons.append(sum(d[h + 1][s2 * A + a] for a in range(A)) == inflow)
        return cons

    for criterion in ("A", "D"):
        ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), T, lam, criterion, flow)
        des = solve_design(mdp, criterion=criterion, episodes=T, lam=lam, tol=1e-9, max_iter=20000)
        assert des.certificate.solver.startswith("frank-wolfe")
        assert des.certificate.relative_gap <= 1e-9
        assert des.certificate.objective == pytest.approx(ref, rel=1e-6)


def test_backward_induction_matches_enumeration():
    mdp, P, rho = _tiny_tabular(3, S=3, A=2, H=3)
    S, A, H = 3, 2, 3
    reward = torch.randn(H * S * A, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, v = mdp.best_response(reward)
    best = -np.inf
    for pol in itertools.product(range(A), repeat=H * S):  # all deterministic Markov policies
        d = mdp.visitation(torch.tensor(pol).reshape(H, S)).flatten()
        best = max(best, float(reward @ d))
    assert float(reward @ v) == pytest.approx(best, abs=1e-12)


def test_visitation_is_a_distribution_per_step():
    mdp, _, _ = _tiny_tabular(4)
    d = mdp.uniform().reshape(3, -1)
    assert torch.allclose(d.sum(1), torch.ones(3, dtype=d.dtype))


def test_design_bad_inputs():
    mdp = _prompt_mdp()
    with pytest.raises(DesignError, match="λ must be > 0"):
        solve_design(mdp, lam=0)
    with pytest.raises(DesignError, match="λ must be > 0"):
        solve_design(mdp, lam=-1.0)
    with pytest.raises(DesignError, match="unknown solver"):
        solve_design(mdp, solver="magic")
    vocab = Vocabulary({"a": ["x", "y"]})
    with pytest.raises(DesignError, match="NaN"):
        PromptMDP(vocab, [np.array([[0.0, np.nan], [1.0, 0.0]])])
    with pytest.raises(DesignError, match=r"must be \(2, d\)"):
        PromptMDP(vocab, [np.zeros((3, 2))])
    with pytest.raises(DesignError, match="sum to one"):
        TabularMDP(np.ones((2, 1, 2)), [1.0, 0.0], 2, np.zeros((2, 1, 2)))


def test_tabular_sampling_matches_visitation():
    mdp, _, _ = _tiny_tabular(5)
    pi = torch.softmax(
        torch.randn(3, 3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64), dim=2
    )
    traj = mdp.sample(pi, 20000, np.random.default_rng(0))
    d = mdp.visitation(pi).numpy()
    for h in range(3):
        emp = np.zeros((3, 2))
        np.add.at(emp, (traj[:, h, 0], traj[:, h, 1]), 1.0)
        assert np.abs(emp / 20000 - d[h]).max() < 0.02


def test_frank_wolfe_atoms_reproduce_weights():
    mdp, _, _ = _tiny_tabular(6)
    des = frank_wolfe(mdp, criterion="D", episodes=5, lam=0.3, tol=1e-6, max_iter=2000)
    recon = sum(
        wt * (mdp.uniform() if k == "uniform" else mdp.vertex_visitation(k)) for k, wt in des.atoms.items()
    )
    assert torch.allclose(recon, des.weights, atol=1e-8)
    assert sum(des.atoms.values()) == pytest.approx(1.0, abs=1e-10)


def test_plain_multiplicative_weights_converges_to_cvxpy():
    mdp = _prompt_mdp(3)
    ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), 10.0, 1.0, "D")
    des = multiplicative(mdp, criterion="D", episodes=10, lam=1.0, tol=1e-7, max_iter=200000, plain=True)
    assert des.certificate.solver == "multiplicative-weights"
    assert des.certificate.objective == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("solver", ["simplex", "multiplicative", "frank-wolfe"])
def test_single_token_slot(solver):
    """A fixed slot (one token, like the paper's base subject) adds no information: every solver
    must leave it at weight one and agree on the optimum."""
    rng = np.random.default_rng(0)
    v = Vocabulary({"base": ["a man"], "a": [f"x{i}" for i in range(6)], "b": [f"y{i}" for i in range(5)]})
    mdp = PromptMDP(v, [rng.normal(size=(n, 4)) for n in v.sizes])
    ref, _ = cvx_optimum(mdp.features.numpy(), mdp.offsets.numpy(), 50.0, 0.1, "A")
    des = solve_design(mdp, solver=solver, tol=1e-8, max_iter=20000)
    assert float(des.step_weights(0)[0]) == pytest.approx(1.0)
    assert des.certificate.objective == pytest.approx(ref, rel=1e-6)
