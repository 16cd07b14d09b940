"""Criteria and information: values and gradients against autograd and finite differences."""

import pytest
import torch

from edpbrl.design.common import evaluate as _evaluate
from edpbrl.design.criteria import interchange_matrix, make_criterion
from edpbrl.design.information import direction_terms, surrogate_information
from edpbrl.errors import DesignError

torch.set_default_dtype(torch.float64)


def _instance(seed=0, H=3, n=6, d=4):
    g = torch.Generator().manual_seed(seed)
    Phi = torch.randn(H * n, d, generator=g)
    offsets = torch.arange(H + 1) * n
    w = torch.rand(H * n, generator=g) + 0.1
    for h in range(H):
        w[h * n : (h + 1) * n] /= w[h * n : (h + 1) * n].sum()
    return Phi, offsets, w


def _crit(name, Phi, offsets):
    V = interchange_matrix(Phi, offsets) if name == "V" else None
    return make_criterion(name, V=V, dim=Phi.shape[1], scale=0.5)


@pytest.mark.parametrize("name", ["A", "D", "V", "E"])
def test_matrix_gradient_matches_autograd(name):
    Phi, offsets, w = _instance()
    crit = _crit(name, Phi, offsets)
    M = surrogate_information(Phi, w, offsets, 5.0, 0.5).requires_grad_(True)
    f, G = crit.value_and_grad(M.detach())
    f_auto = crit.value(M) if name != "E" else crit.value_and_grad(M, grad=False)[0]
    (g_auto,) = torch.autograd.grad(f_auto, M)
    assert torch.allclose(f, f_auto.detach())
    assert torch.allclose(G, 0.5 * (g_auto + g_auto.T), atol=1e-9)


@pytest.mark.parametrize("name", ["A", "D", "V", "E"])
def test_row_gradient_matches_autograd_up_to_step_constants(name):
    """c_i = T(φ_i − μ_h)ᵀ G (φ_i − μ_h) equals ∂f/∂w_i minus a constant per step."""
    Phi, offsets, w = _instance(1)
    T, lam = 7.0, 0.3
    crit = _crit(name, Phi, offsets)
    wv = w.clone().requires_grad_(True)
    f = crit.value_and_grad(surrogate_information(Phi, wv, offsets, T, lam), grad=False)[0]
    (g,) = torch.autograd.grad(f, wv)
    c = _evaluate(crit, Phi, w, offsets, T, lam, None, None).c
    for h in range(3):
        diff = (g - c)[offsets[h] : offsets[h + 1]]
        assert torch.allclose(diff, diff.mean().expand_as(diff), atol=1e-8)
        # the constant is −T μ_hᵀ G μ_h: the raw gradient is T(φᵀGφ − 2φᵀGμ)


def test_row_gradient_finite_differences():
    Phi, offsets, w = _instance(2)
    crit = _crit("A", Phi, offsets)
    T, lam = 5.0, 0.5
    st = _evaluate(crit, Phi, w, offsets, T, lam, None, None)
    i, j, eps = 1, 4, 1e-6  # move mass within step 0: the derivative is c_i − c_j
    e = torch.zeros_like(w)
    e[i], e[j] = 1.0, -1.0
    fp = crit.value(surrogate_information(Phi, w + eps * e, offsets, T, lam))
    fm = crit.value(surrogate_information(Phi, w - eps * e, offsets, T, lam))
    assert float((fp - fm) / (2 * eps)) == pytest.approx(float(st.c[i] - st.c[j]), rel=1e-6)


def test_direction_terms_exact_quadratic():
    Phi, offsets, w = _instance(3)
    _, _, v = _instance(4)
    delta = v - w
    A1, A2 = direction_terms(Phi, w, delta, offsets, 3.0)
    M0 = surrogate_information(Phi, w, offsets, 3.0, 0.2)
    for g in (0.1, 0.5, 1.0):
        Mg = surrogate_information(Phi, w + g * delta, offsets, 3.0, 0.2)
        assert torch.allclose(Mg, M0 + g * A1 - g * g * A2, atol=1e-10)


def test_surrogate_is_expected_fisher_of_uniform_choice():
    """M − λI equals T·(K/(K−1))·E[Fisher at p = 1/K] for K options drawn i.i.d. from w."""
    from edpbrl.design.information import query_fisher

    Phi, offsets, w = _instance(5, H=1, n=5, d=3)
    K = 3
    # exact expectation by enumerating all 5^3 option triples
    import itertools

    EF = torch.zeros(3, 3)
    for idx in itertools.product(range(5), repeat=K):
        p = torch.prod(w[list(idx)])
        EF += p * query_fisher(Phi[list(idx)][None])
    M = surrogate_information(Phi, w, offsets, 1.0, 1e-9)
    assert torch.allclose(EF * K / (K - 1), M, atol=1e-8)


def test_bad_criterion_inputs():
    with pytest.raises(DesignError, match="unknown criterion"):
        make_criterion("Z")
    with pytest.raises(DesignError, match="needs a matrix V"):
        make_criterion("V")
    with pytest.raises(DesignError, match="positive semi-definite"):
        make_criterion("V", V=-torch.eye(3))
    with pytest.raises(DesignError, match="not positive definite"):
        make_criterion("A").value(-torch.eye(3))
