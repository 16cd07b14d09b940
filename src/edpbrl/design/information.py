"""Information matrices of the design problem (the θ-agnostic surrogate and the MNL Fisher).

Notation (shapes): ``Phi`` (N, d) — the feature of every row, where a row is one (step, state,
action) of the MDP, rows contiguous by step; ``offsets`` (H+1,) — rows of step h are
``offsets[h]:offsets[h+1]``; ``w`` (N,) — the mixture visitation d̄_h(s, a), summing to one within
each step. All functions are pure, device-agnostic torch.

The θ-agnostic surrogate (choice probabilities replaced by 1/K) is

    M(w) = T · Σ_h [ Σ_i w_i φ_i φ_iᵀ − μ_h μ_hᵀ ] + λ P,      μ_h = Σ_{i ∈ h} w_i φ_i,

T episodes, λ > 0, P the prior precision (identity by default): T times the sum over steps of the
feature covariance under the mixture policy. Along a direction Δ it is a quadratic in the step:
``M(w + γΔ) = M(w) + γ A1 − γ² A2`` (see :func:`direction_terms`).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def step_means(Phi: Tensor, w: Tensor, offsets: Tensor) -> Tensor:
    """μ_h = Σ_{i∈h} w_i φ_i for every step; returns (H, d)."""
    H = offsets.numel() - 1
    return torch.stack([w[offsets[h] : offsets[h + 1]] @ Phi[offsets[h] : offsets[h + 1]] for h in range(H)])


def covariance_sum(Phi: Tensor, w: Tensor, offsets: Tensor) -> Tensor:
    """Σ_h [Φ_hᵀ diag(w_h) Φ_h − μ_h μ_hᵀ]: (d, d). Works for signed ``w`` too."""
    mu = step_means(Phi, w, offsets)
    S = (Phi * w[:, None]).T @ Phi
    return S - mu.T @ mu


def surrogate_information(
    Phi: Tensor, w: Tensor, offsets: Tensor, T: float, lam: float, prior: Tensor | None = None
) -> Tensor:
    """The surrogate M(w) (d, d) defined in the module docstring."""
    d = Phi.shape[1]
    P = torch.eye(d, dtype=Phi.dtype, device=Phi.device) if prior is None else prior
    M = T * covariance_sum(Phi, w, offsets) + lam * P
    return 0.5 * (M + M.T)


def direction_terms(
    Phi: Tensor, w: Tensor, delta: Tensor, offsets: Tensor, T: float
) -> tuple[Tensor, Tensor]:
    """(A1, A2) with ``M(w + γΔ) = M(w) + γ A1 − γ² A2``; both (d, d).

    A1 = T Σ_h [Φ_hᵀ diag(Δ_h) Φ_h − μ_h δ_hᵀ − δ_h μ_hᵀ], A2 = T Σ_h δ_h δ_hᵀ, δ_h = Σ Δ_i φ_i.
    Only rows where Δ ≠ 0 are touched, so sparse directions (Frank-Wolfe vertices) are cheap.
    """
    nz = torch.nonzero(delta).flatten()
    mu = step_means(Phi, w, offsets)
    step_of = torch.bucketize(nz, offsets[1:], right=True)
    Pn, dn = Phi[nz], delta[nz]
    dmu = torch.zeros_like(mu).index_add_(0, step_of, Pn * dn[:, None])
    A1 = (Pn * dn[:, None]).T @ Pn - mu.T @ dmu - dmu.T @ mu
    A2 = dmu.T @ dmu
    return T * 0.5 * (A1 + A1.T), T * A2


def query_fisher(X: Tensor, theta: Tensor | None = None) -> Tensor:
    """Fisher information of MNL queries at θ: Σ_q [Σ_k p_k x_k x_kᵀ − x̄ x̄ᵀ].

    X: (n, K, d) option features of n queries; θ: (d,) or None for the θ-agnostic p_k = 1/K.
    Returns (d, d).
    """
    n, K, d = X.shape
    if theta is None:
        p = torch.full((n, K), 1.0 / K, dtype=X.dtype, device=X.device)
    else:
        p = torch.softmax(X @ theta, dim=1)
    xbar = torch.einsum("nk,nkd->nd", p, X)
    S = torch.einsum("nk,nkd,nke->de", p, X, X)
    return S - xbar.T @ xbar
