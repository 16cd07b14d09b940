"""Internals shared by the design solvers: input checks, the objective with its row gradient,
per-step statistics, the iteration log and the certificate.

The per-row gradient used everywhere is the centred one, c_i = T (φ_i − μ_h)ᵀ G (φ_i − μ_h) with
G = ∂f/∂M; it differs from ∂f/∂w_i by a constant per step, which cancels in every gap and step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import DesignError
from .criteria import Criterion, interchange_matrix, make_criterion
from .domain import check_domain
from .information import step_means, surrogate_information
from .result import Certificate, Design

Tensor = torch.Tensor
Progress = Callable[[int, int, str], None]


@dataclass
class State:
    """Objective f, information M (d, d) and centred row gradient c (N,) at a point."""

    M: Tensor
    f: float
    c: Tensor


def prepare(
    domain, T: float, lam: float, prior: Tensor | None, criterion, V: Tensor | None, dtype, device
) -> tuple[Tensor, Tensor, Tensor | None, Criterion]:
    """Validate a design problem; returns (Φ (N, d), offsets (H+1,), prior (d, d) or None, criterion)."""
    check_domain(domain)
    if isinstance(lam, bool) or not (isinstance(lam, int | float) and lam > 0):
        raise DesignError(f"λ must be > 0, got {lam}")
    if not T > 0:
        raise DesignError(f"the number of episodes T must be > 0, got {T}")
    Phi = domain.features.to(device=device, dtype=dtype)
    if not torch.isfinite(Phi).all():
        raise DesignError("features contain NaN or infinite values")
    offsets = domain.offsets.to(device)
    d = Phi.shape[1]
    if prior is not None:
        prior = torch.as_tensor(prior, dtype=dtype, device=device)
        if prior.shape != (d, d):
            raise DesignError(f"prior precision must be ({d}, {d}), got {tuple(prior.shape)}")
    if isinstance(criterion, Criterion):
        crit = criterion
    else:
        if str(criterion).upper() == "V" and V is None:
            V = interchange_matrix(Phi, offsets)
        if V is not None:
            V = torch.as_tensor(V, dtype=dtype, device=device)
        crit = make_criterion(criterion, V=V, dim=d, scale=lam)
    return Phi, offsets, prior, crit


def evaluate(
    crit: Criterion,
    Phi: Tensor,
    w: Tensor,
    offsets: Tensor,
    T: float,
    lam: float,
    prior: Tensor | None,
    extra: Tensor | None,
) -> State:
    """Objective, information and centred row gradient at the mixture weights w (N,)."""
    M = surrogate_information(Phi, w, offsets, T, lam, prior)
    if extra is not None:
        M = M + extra
    f, C = crit.factor(M)
    mu = step_means(Phi, w, offsets)
    Y = Phi @ C
    m = mu @ C
    sizes = offsets[1:] - offsets[:-1]
    Y = Y - torch.repeat_interleave(m, sizes, dim=0)
    return State(M, float(f), T * (Y * Y).sum(1))


def group_stats(c: Tensor, w: Tensor, offsets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per step: argmax of c, max of c, and Σ w c. Shapes (H,)."""
    H = offsets.numel() - 1
    arg = torch.empty(H, dtype=torch.long, device=c.device)
    mx = torch.empty(H, dtype=c.dtype, device=c.device)
    mean = torch.empty(H, dtype=c.dtype, device=c.device)
    for h in range(H):
        seg = c[offsets[h] : offsets[h + 1]]
        mx[h], a = seg.max(0)
        arg[h] = a + offsets[h]
        mean[h] = seg @ w[offsets[h] : offsets[h + 1]]
    return arg, mx, mean


def segment_sum(x: Tensor, offsets: Tensor) -> Tensor:
    """Σ of x (N,) within every step; (H,)."""
    return torch.stack([x[offsets[h] : offsets[h + 1]].sum() for h in range(offsets.numel() - 1)])


class Logger:
    """Per-iteration history (objective, FW gap, time), optional printing and progress callback."""

    def __init__(self, verbose: bool, progress: Progress | None, max_iter: int, name: str):
        self.verbose, self.progress, self.max_iter, self.name = verbose, progress, max_iter, name
        self.history: list[dict] = []
        self.t0 = time.perf_counter()
        if verbose:
            print(f"{name}: {'iter':>6} {'objective':>14} {'FW gap':>11} {'rel gap':>10} {'time':>8}")

    def out_of_time(self, limit: float | None) -> bool:
        return limit is not None and time.perf_counter() - self.t0 >= limit

    def log(self, it: int, f: float, gap: float) -> None:
        t = time.perf_counter() - self.t0
        rel = gap / max(abs(f), 1e-300)
        self.history.append({"iteration": it, "objective": f, "gap": gap, "seconds": t})
        if self.verbose:
            print(f"{self.name}: {it:6d} {f:14.6e} {gap:11.3e} {rel:10.3e} {t:8.2f}")
        if self.progress is not None:
            self.progress(it, self.max_iter, f"gap {rel:.1e}")


def finish(name, crit, logger, state, gap, it, tol, w, offsets, T, lam, atoms=None) -> Design:
    """The :class:`Design` with its :class:`Certificate` at the final iterate."""
    rel = gap / max(abs(state.f), 1e-300)
    cert = Certificate(
        criterion=crit.name,
        objective=state.f,
        gap=gap,
        relative_gap=rel,
        iterations=it,
        seconds=time.perf_counter() - logger.t0,
        converged=rel <= tol,
        solver=name,
        episodes=T,
        lam=lam,
        history=logger.history,
    )
    return Design(weights=w, offsets=offsets, information=state.M, certificate=cert, atoms=atoms or {})
