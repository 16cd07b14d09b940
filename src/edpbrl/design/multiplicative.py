"""Multiplicative (mirror-ascent) solvers for the prompt MDP's product of simplices.

The plain variant is the classical multiplicative-weights OED iteration; the default adds an
extrapolating exact line search and a pairwise Frank-Wolfe step that revives tokens whose weight
vanished. Both return the same certificate as every solver.
"""

from __future__ import annotations

import torch

from .common import Logger, Progress, evaluate, finish, group_stats, prepare, segment_sum
from .criteria import Criterion
from .information import direction_terms
from .linesearch import exact_line_search
from .result import Design

Tensor = torch.Tensor


def multiplicative(
    domain,
    *,
    criterion: str | Criterion = "A",
    episodes: float = 50,
    lam: float = 0.1,
    prior: Tensor | None = None,
    V: Tensor | None = None,
    extra: Tensor | None = None,
    tol: float = 1e-4,
    max_iter: int = 2000,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    verbose: bool = False,
    progress: Progress | None = None,
    max_seconds: float | None = None,
    plain: bool = False,
) -> Design:
    """Multiplicative solver for the product of simplices (the prompt MDP).

    ``plain=True`` is the classical multiplicative-weights OED iteration (Silvey–Titterington–
    Torsney, exponent 1): w ← w · c / (Σ w c) per step, no line search — kept as a baseline.

    Each iteration: (1) multiplicative direction w' ∝ w · c / (Σ w c) within each step, then an
    exact line search along w' − w up to the point where a weight hits zero (so it can extrapolate
    well past the plain multiplicative update); (2) a pairwise Frank-Wolfe step moving mass from each
    step's worst support token to its best token, which revives tokens multiplicative updates
    cannot. Stops when the relative FW gap ≤ ``tol``.
    """
    T = float(episodes)
    Phi, offsets, prior, crit = prepare(domain, T, lam, prior, criterion, V, dtype, device)
    w = domain.uniform().to(device=device, dtype=dtype)
    sizes = offsets[1:] - offsets[:-1]
    logger = Logger(verbose, progress, max_iter, "multiplicative")
    state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
    it = 0
    while True:
        arg, mx, mean = group_stats(state.c, w, offsets)
        gap = float((mx - mean).sum())
        logger.log(it, state.f, gap)
        if gap <= tol * abs(state.f) or it >= max_iter or logger.out_of_time(max_seconds):
            break
        it += 1
        # (1) multiplicative direction + extrapolating exact line search
        # a step whose gain vanishes (e.g. a single-token slot: c ≡ 0) keeps its weights
        mean_rep = torch.repeat_interleave(mean, sizes)
        ratio = torch.where(mean_rep > 0, state.c / mean_rep.clamp_min(1e-300), torch.ones_like(w))
        wp = w * ratio
        wp = wp / torch.repeat_interleave(segment_sum(wp, offsets), sizes)
        if plain:
            w = wp
            state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
            continue
        delta = wp - w
        neg = delta < 0
        gmax = float((w[neg] / -delta[neg]).min()) if neg.any() else 1.0
        A1, A2 = direction_terms(Phi, w, delta, offsets, T)
        gamma = exact_line_search(crit, state.M, A1, A2, 0.999 * gmax)
        w = (w + gamma * delta).clamp_min(0)
        # (2) pairwise FW step at the new point (its gradient is needed anyway)
        state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
        arg, mx, mean = group_stats(state.c, w, offsets)
        worst = torch.stack(
            [
                torch.where(
                    w[offsets[h] : offsets[h + 1]] > 0,
                    state.c[offsets[h] : offsets[h + 1]],
                    torch.full_like(state.c[offsets[h] : offsets[h + 1]], float("inf")),
                ).argmin()
                + offsets[h]
                for h in range(offsets.numel() - 1)
            ]
        )
        keep = arg != worst
        if keep.any():
            delta = torch.zeros_like(w)
            delta[arg[keep]] += 1.0
            delta[worst[keep]] -= 1.0
            gmax = float(w[worst[keep]].min())
            A1, A2 = direction_terms(Phi, w, delta, offsets, T)
            gamma = exact_line_search(crit, state.M, A1, A2, gmax)
            if gamma > 0:
                w = (w + gamma * delta).clamp_min(0)
                state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
    name = "multiplicative-weights" if plain else "multiplicative"
    return finish(name, crit, logger, state, gap, it, tol, w, offsets, T, lam)
