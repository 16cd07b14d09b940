"""Information of candidate queries given as feature tensors, and lazy greedy log-det selection.

Pure tensor functions for the pool-based strategies: the dense-feedback questions of a candidate
episode with option features X (K, H, d) and choice probabilities p carry the information
Σ_h Σ_k p_k (x_k − x̄)(x_k − x̄)ᵀ = U Uᵀ with U (d, H·K) — a low-rank update, so the gain of adding
it to M is log det(I + Uᵀ M⁻¹ U), computed with one Cholesky factor of M.
"""

from __future__ import annotations

import heapq

import torch

Tensor = torch.Tensor


def info_factors(X: Tensor, theta: Tensor | None = None) -> Tensor:
    """U (n, d, H·K) with U Uᵀ = Σ_h Fisher of step h's question at θ (1/K when θ is None).

    X: (n, K, H, d) option features of n candidate episodes; θ: (d,) or None.
    """
    n, K, H, d = X.shape
    if theta is None:
        p = torch.full((n, K, H), 1.0 / K, dtype=X.dtype, device=X.device)
    else:
        p = torch.softmax(torch.einsum("nkhd,d->nkh", X, theta), dim=1)
    xbar = torch.einsum("nkh,nkhd->nhd", p, X)
    C = (X - xbar[:, None]) * p.sqrt()[..., None]  # (n, K, H, d)
    return C.permute(0, 3, 2, 1).reshape(n, d, H * K)


def logdet_gains(M: Tensor, U: Tensor, L: Tensor | None = None) -> Tensor:
    """log det(I + U_eᵀ M⁻¹ U_e) for every candidate e; U (n, d, r), M (d, d) positive definite
    (``L``: its Cholesky factor, if already known). Returns (n,)."""
    if L is None:
        L = torch.linalg.cholesky(0.5 * (M + M.T))
    n, d, r = U.shape
    A = torch.linalg.solve_triangular(L, U.permute(1, 0, 2).reshape(d, n * r), upper=False)
    A = A.reshape(d, n, r).permute(1, 0, 2)
    G = A.transpose(1, 2) @ A + torch.eye(r, dtype=U.dtype, device=U.device)
    return torch.linalg.slogdet(G)[1]


def variance_gains(M: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """tr(V M⁻¹) − tr(V (M + U_e U_eᵀ)⁻¹) for every candidate e: how much asking it lowers the
    posterior variance of the scores that V weights (a V-weighted, targeted gain).

    By the Woodbury identity the reduction is tr((I + U_eᵀ M⁻¹ U_e)⁻¹ U_eᵀ M⁻¹ V M⁻¹ U_e).
    M (d, d) positive definite, U (n, d, r), V (d, d) positive semi-definite. Returns (n,).
    """
    L = torch.linalg.cholesky(0.5 * (M + M.T))
    n, d, r = U.shape
    flat = U.permute(1, 0, 2).reshape(d, n * r)
    A = torch.cholesky_solve(flat, L).reshape(d, n, r).permute(1, 0, 2)  # M⁻¹ U_e (n, d, r)
    G = U.transpose(1, 2) @ A + torch.eye(r, dtype=U.dtype, device=U.device)  # (n, r, r)
    B = A.transpose(1, 2) @ (V @ A)  # U_eᵀ M⁻¹ V M⁻¹ U_e (n, r, r)
    return torch.linalg.solve(G, B).diagonal(dim1=1, dim2=2).sum(-1)


def prefix_covariance(X: Tensor) -> Tensor:
    """V (d, d): the covariance of candidate episodes' option prefix features, centred per step and
    summed over steps — the prompts whose scores :func:`variance_gains` should make sure of.
    X (n, K, H, d)."""
    Y = X.reshape(-1, X.shape[2], X.shape[3])
    Yc = Y - Y.mean(0)
    return torch.einsum("nhd,nhe->de", Yc, Yc) / Y.shape[0]


def greedy_logdet(M0: Tensor, U: Tensor, n: int, batch: int = 64) -> list[int]:
    """Lazy greedy: n distinct candidates maximising log det(M0 + Σ U_e U_eᵀ).

    M0 (d, d) positive definite, U (m, d, r). The gains only shrink as M grows (submodularity), so
    stale gains are upper bounds: re-score the ``batch`` best stale candidates, and take the best
    fresh one if it beats every stale bound.
    """
    M = M0.clone()
    L = torch.linalg.cholesky(M)
    gains = logdet_gains(M, U, L)
    heap = [(-float(g), i) for i, g in enumerate(gains)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while len(chosen) < min(n, U.shape[0]):
        top = [heapq.heappop(heap) for _ in range(min(batch, len(heap)))]
        idx = [i for _, i in top]
        fresh = logdet_gains(M, U[idx], L)
        j = int(torch.argmax(fresh))
        if not heap or float(fresh[j]) >= -heap[0][0] - 1e-12:
            chosen.append(idx[j])
            M = M + U[idx[j]] @ U[idx[j]].T
            L = torch.linalg.cholesky(0.5 * (M + M.T))
            rest = [(-float(g), i) for k, (g, i) in enumerate(zip(fresh, idx)) if k != j]
        else:
            rest = [(-float(g), i) for g, i in zip(fresh, idx)]
        for item in rest:
            heapq.heappush(heap, item)
    return chosen
