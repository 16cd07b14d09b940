"""The pool-gain benchmark: the adaptive designs' per-plan cost, against the direct formulas.

``score-gain-encoded`` and ``risk-gain-encoded`` score every episode of a 600-episode pool at each
plan with :func:`~edpbrl.design.pool.variance_gains` / :func:`~edpbrl.design.pool.risk_gains`.
Those work in whitened coordinates (one triangular solve with the pool). The baseline here is the
direct Woodbury form they replaced (a Cholesky solve M⁻¹U with the pool, then one product with the
pool per quadratic form), timed in the same run on the same inputs; the report gives both times,
their ratio and the largest relative difference of the gains (the two must agree).

Instance: n candidates of rank r in dimension d; M = P + a few candidates' information with P a
population-like precision (low rank + isotropic), C a test-prompt-like covariance, D = PSP − P
indefinite, as the strategies form them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from ..design.pool import risk_gains, variance_gains
from ..device import check_device
from ..errors import EdpbrlError
from .bench_design import check_sizes

Tensor = torch.Tensor


def direct_variance_gains(M: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """The baseline: tr((I + U_eᵀM⁻¹U_e)⁻¹ U_eᵀM⁻¹VM⁻¹U_e) with A = M⁻¹U by a Cholesky solve."""
    L = torch.linalg.cholesky(0.5 * (M + M.T))
    n, d, r = U.shape
    A = torch.cholesky_solve(U.permute(1, 0, 2).reshape(d, n * r), L)
    Ae = A.reshape(d, n, r).permute(1, 0, 2)
    G = U.transpose(1, 2) @ Ae + torch.eye(r, dtype=U.dtype, device=U.device)
    B = Ae.transpose(1, 2) @ (V @ A).reshape(d, n, r).permute(1, 0, 2)
    return torch.linalg.solve(G, B).diagonal(dim1=1, dim2=2).sum(-1)


def direct_risk_gains(M: Tensor, U: Tensor, C: Tensor, D: Tensor) -> Tensor:
    """The baseline: :func:`risk_gains`' Woodbury form with A = M⁻¹U and a product with the pool
    for each of AᵀCA, AᵀDA and Aᵀ(CM⁻¹D + DM⁻¹C)A."""
    L = torch.linalg.cholesky(0.5 * (M + M.T))
    n, d, r = U.shape
    A = torch.cholesky_solve(U.permute(1, 0, 2).reshape(d, n * r), L)
    CMD = C @ torch.cholesky_solve(D, L)
    E = CMD + CMD.T

    def quad(W: Tensor) -> Tensor:
        Y = (W @ A).reshape(d, n, r).permute(1, 0, 2)
        return A.reshape(d, n, r).permute(1, 2, 0) @ Y

    Ae = A.reshape(d, n, r).permute(1, 0, 2)
    G = U.transpose(1, 2) @ Ae + torch.eye(r, dtype=U.dtype, device=U.device)
    GC, GD, GE = (torch.linalg.solve(G, quad(W)) for W in (C, D, E))
    tr = lambda Z: Z.diagonal(dim1=1, dim2=2).sum(-1)  # noqa: E731
    return tr(GC) + tr(GE) - (GC * GD.transpose(1, 2)).sum((1, 2))


@dataclass
class GainsTiming:
    """Seconds per call (median of ``repeats``) of one gain function and its direct baseline."""

    gain: str  # "variance" or "risk"
    candidates: int
    dim: int
    rank: int
    device: str
    dtype: str
    threads: int
    seconds: float
    direct_seconds: float
    speedup: float  # direct / ours
    max_relative_difference: float  # max |ours − direct| / max |direct|


def instance(n: int, d: int, r: int, seed: int = 0, device: str = "cpu", dtype=torch.float64):
    """(M, U, C, D) of the module docstring; U (n, d, r), the others (d, d)."""
    g = torch.Generator().manual_seed(seed)
    kw = dict(generator=g, dtype=torch.float64)
    B = torch.randn(d, min(48, d), **kw) / d**0.5
    P = torch.linalg.inv(2e-2 * torch.eye(d, dtype=torch.float64) + B @ B.T)  # population-like
    U = torch.randn(n, d, r, **kw) * 0.3
    M = P + sum(U[i] @ U[i].T for i in range(min(5, n)))
    X = torch.randn(1000, d, **kw)
    C = torch.cov(X.T)
    S = 2.0 * torch.linalg.inv(M)
    D = P @ S @ P - P
    to = dict(device=device, dtype=dtype)
    return M.to(**to), U.to(**to), C.to(**to), (0.5 * (D + D.T)).to(**to)


def _time(fn, repeats: int, device: str) -> tuple[float, Tensor]:
    out, times = None, []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], out


def run(
    *,
    candidates: int = 600,
    dim: int = 384,
    rank: int = 24,
    repeats: int = 5,
    device: str = "cpu",
    dtype: str = "float64",
    threads: int | None = None,
    seed: int = 0,
) -> list[GainsTiming]:
    """Time both gains and their baselines on one instance; returns one row per gain."""
    check_sizes(candidates=(candidates, 1), dim=(dim, 2), rank=(rank, 1), repeats=(repeats, 1))
    if dtype not in ("float64", "float32"):
        raise EdpbrlError(f"dtype must be float64 or float32, got {dtype!r}")
    device = check_device(device)
    if threads is not None:
        torch.set_num_threads(int(threads))
    M, U, C, D = instance(candidates, dim, rank, seed, device, getattr(torch, dtype))
    rows = []
    for gain, ours, direct in (
        ("variance", lambda: variance_gains(M, U, C), lambda: direct_variance_gains(M, U, C)),
        ("risk", lambda: risk_gains(M, U, C, D), lambda: direct_risk_gains(M, U, C, D)),
    ):
        ours(), direct()  # warm-up
        t_direct, ref = _time(direct, repeats, device)
        t_ours, got = _time(ours, repeats, device)
        diff = float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-300))
        rows.append(
            GainsTiming(
                gain,
                candidates,
                dim,
                rank,
                device,
                dtype,
                torch.get_num_threads(),
                t_ours,
                t_direct,
                t_direct / t_ours,
                diff,
            )
        )
    return rows


def as_dicts(rows: list[GainsTiming]) -> list[dict]:
    return [asdict(r) for r in rows]
