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


def _whitened(M: Tensor, U: Tensor, L: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(L, Ũ): the Cholesky factor of M (d, d) (``L`` if given) and Ũ = L⁻¹U_e for every candidate,
    as one (d, n·r) matrix (column block e holds candidate e's r columns). In these coordinates
    U_eᵀM⁻¹U_e = Ũ_eᵀŨ_e and U_eᵀM⁻¹WM⁻¹U_e = Ũ_eᵀ(L⁻¹WL⁻ᵀ)Ũ_e: one triangular solve serves every
    quadratic form of the pool."""
    if L is None:
        L = torch.linalg.cholesky(0.5 * (M + M.T))
    n, d, r = U.shape
    return L, torch.linalg.solve_triangular(L, U.permute(1, 0, 2).reshape(d, n * r), upper=False)


def _per_candidate(Y: Tensor, n: int) -> Tensor:
    """(d, n·r) → (n, d, r): candidate e's block of a whitened matrix."""
    d = Y.shape[0]
    return Y.reshape(d, n, -1).permute(1, 0, 2)


def _congruence(L: Tensor, W: Tensor) -> Tensor:
    """L⁻¹ W L⁻ᵀ (d, d) for a symmetric W."""
    Y = torch.linalg.solve_triangular(L, W, upper=False)
    Z = torch.linalg.solve_triangular(L, Y.T, upper=False)
    return 0.5 * (Z + Z.T)


def logdet_gains(M: Tensor, U: Tensor, L: Tensor | None = None) -> Tensor:
    """log det(I + U_eᵀ M⁻¹ U_e) for every candidate e; U (n, d, r), M (d, d) positive definite
    (``L``: its Cholesky factor, if already known). Returns (n,)."""
    n, _, r = U.shape
    _, Ut = _whitened(M, U, L)
    A = _per_candidate(Ut, n)
    G = A.transpose(1, 2) @ A + torch.eye(r, dtype=U.dtype, device=U.device)
    return torch.linalg.slogdet(G)[1]


def variance_gains(M: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """tr(V M⁻¹) − tr(V (M + U_e U_eᵀ)⁻¹) for every candidate e: how much asking it lowers the
    posterior variance of the scores that V weights (a V-weighted, targeted gain).

    By the Woodbury identity the reduction is tr((I + U_eᵀ M⁻¹ U_e)⁻¹ U_eᵀ M⁻¹ V M⁻¹ U_e), computed
    in whitened coordinates (Ũ = L⁻¹U, M = LLᵀ): tr((I + ŨᵀŨ)⁻¹ Ũᵀ(L⁻¹VL⁻ᵀ)Ũ).
    M (d, d) positive definite, U (n, d, r), V (d, d) positive semi-definite. Returns (n,).
    """
    n, _, r = U.shape
    L, Ut = _whitened(M, U)
    A = _per_candidate(Ut, n)
    G = A.transpose(1, 2) @ A + torch.eye(r, dtype=U.dtype, device=U.device)  # (n, r, r)
    B = A.transpose(1, 2) @ _per_candidate(_congruence(L, V) @ Ut, n)  # Ũ_eᵀṼŨ_e (n, r, r)
    return torch.linalg.solve(G, B).diagonal(dim1=1, dim2=2).sum(-1)


def risk_gains(M: Tensor, U: Tensor, C: Tensor, D: Tensor) -> Tensor:
    """J(M) − J(M + U_e U_eᵀ) for every candidate e, J(M) = tr(C M⁻¹) + tr(M⁻¹ C M⁻¹ D).

    J is the expected error of the scores that C weights when the estimate is the MAP under a
    prior of precision P and mean m, with E[bbᵀ] = D + P for the prior's pull b = P(m − θ): the
    score variance tr(C M⁻¹) plus the bias that the prior's mean leaves, minus the part of that
    variance the prior itself explains (D = 0 gives the Bayes risk, :func:`variance_gains`).
    By Woodbury, with A = M⁻¹U_e and G = I + U_eᵀA, the gain is

        tr(G⁻¹ AᵀCA) + tr(G⁻¹ Aᵀ(C M⁻¹ D + D M⁻¹ C) A) − tr(G⁻¹ AᵀCA G⁻¹ AᵀDA).

    In whitened coordinates (M = LLᵀ, Ũ = L⁻¹U, C̃ = L⁻¹CL⁻ᵀ, D̃ = L⁻¹DL⁻ᵀ) the three forms are
    ŨᵀC̃Ũ, ŨᵀD̃Ũ and (C̃Ũ)ᵀ(D̃Ũ) + (D̃Ũ)ᵀ(C̃Ũ): one triangular solve and two products with the
    pool, where the direct form takes a Cholesky solve and three.

    M (d, d) positive definite; U (n, d, r); C (d, d) positive semi-definite; D (d, d) symmetric
    (may be indefinite). Returns (n,).
    """
    n, _, r = U.shape
    L, Ut = _whitened(M, U)
    A = _per_candidate(Ut, n)
    CU = _per_candidate(_congruence(L, C) @ Ut, n)  # C̃Ũ_e (n, d, r)
    DU = _per_candidate(_congruence(L, D) @ Ut, n)
    G = A.transpose(1, 2) @ A + torch.eye(r, dtype=U.dtype, device=U.device)  # (n, r, r)
    AC = A.transpose(1, 2) @ CU  # AᵀCA
    AD = A.transpose(1, 2) @ DU  # AᵀDA
    CD = CU.transpose(1, 2) @ DU
    AE = CD + CD.transpose(1, 2)  # Aᵀ(CM⁻¹D + DM⁻¹C)A
    GC = torch.linalg.solve(G, AC)  # G⁻¹ AᵀCA
    GD = torch.linalg.solve(G, AD)
    GE = torch.linalg.solve(G, AE)
    tr = lambda Z: Z.diagonal(dim1=1, dim2=2).sum(-1)  # noqa: E731
    return tr(GC) + tr(GE) - (GC * GD.transpose(1, 2)).sum((1, 2))


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
