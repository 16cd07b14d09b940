"""Frank-Wolfe over the visitation polytope of any MDP, with the planning oracle.

The linear maximisation over visitation measures is a planning problem (backward induction with
the gradient as reward, in the domain's ``best_response``); its answer is a deterministic policy
whose visitation is a vertex. Steps are vanilla / away / pairwise with exact line search, and the
iteration stops on the Frank-Wolfe duality gap g = ⟨∇f(w), v − w⟩ ≥ f* − f(w).
"""

from __future__ import annotations

import torch

from ..errors import DesignError
from .common import Logger, Progress, evaluate, finish, prepare
from .criteria import Criterion
from .information import direction_terms
from .linesearch import exact_line_search
from .result import Design

Tensor = torch.Tensor


def frank_wolfe(
    domain,
    *,
    criterion: str | Criterion = "A",
    episodes: float = 50,
    lam: float = 0.1,
    prior: Tensor | None = None,
    V: Tensor | None = None,
    extra: Tensor | None = None,
    variant: str = "pairwise",
    tol: float = 1e-6,
    max_iter: int = 1000,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    verbose: bool = False,
    progress: Progress | None = None,
    max_seconds: float | None = None,
) -> Design:
    """Frank-Wolfe over the visitation polytope of ``domain`` with a planning oracle.

    variant: "vanilla" (step towards the oracle's vertex), "away" (away-step FW) or "pairwise"
    (move mass from the worst active atom to the oracle's vertex); all with exact line search.
    ``extra`` (d, d) is information already collected, added to M. Stops when the relative FW
    gap ≤ ``tol`` or after ``max_iter`` iterations.
    """
    if variant not in ("vanilla", "away", "pairwise"):
        raise DesignError(f"unknown Frank-Wolfe variant '{variant}': vanilla, away or pairwise")
    T = float(episodes)
    Phi, offsets, prior, crit = prepare(domain, T, lam, prior, criterion, V, dtype, device)
    to = {"device": device, "dtype": dtype}
    # atoms: id -> (visitation, weight); the start is the uniform policy's visitation
    atoms: dict = {"uniform": [domain.uniform().to(**to), 1.0]}
    w = atoms["uniform"][0].clone()
    logger = Logger(verbose, progress, max_iter, f"frank-wolfe/{variant}")
    it, gap = 0, float("inf")
    state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
    while True:
        vid, v = domain.best_response(state.c.to(domain.features.device))
        v = v.to(**to)
        gap = float(state.c @ (v - w))
        logger.log(it, state.f, gap)
        if gap <= tol * abs(state.f) or it >= max_iter or logger.out_of_time(max_seconds):
            break
        it += 1
        scores = {k: float(state.c @ a[0]) for k, a in atoms.items()}
        away_id = min(scores, key=scores.get)
        away_gap = float(state.c @ w) - scores[away_id]
        if variant == "pairwise" and away_id != vid:
            direction, gmax, kind = v - atoms[away_id][0], atoms[away_id][1], "pair"
        elif variant == "away" and away_gap > gap and len(atoms) > 1:
            a = atoms[away_id][1]
            direction, gmax, kind = w - atoms[away_id][0], a / (1 - a), "away"
        else:
            direction, gmax, kind = v - w, 1.0, "fw"
        A1, A2 = direction_terms(Phi, w, direction, offsets, T)
        gamma = exact_line_search(crit, state.M, A1, A2, gmax)
        if gamma <= 0:
            continue
        if kind == "fw":
            for a in atoms.values():
                a[1] *= 1 - gamma
            atoms.setdefault(vid, [v, 0.0])[1] += gamma
        elif kind == "away":
            for a in atoms.values():
                a[1] *= 1 + gamma
            atoms[away_id][1] -= gamma
        else:
            atoms[away_id][1] -= gamma
            atoms.setdefault(vid, [v, 0.0])[1] += gamma
        atoms = {k: a for k, a in atoms.items() if a[1] > 1e-14}
        w = w + gamma * direction
        w = w.clamp_min(0)
        state = evaluate(crit, Phi, w, offsets, T, lam, prior, extra)
    return finish(
        f"frank-wolfe/{variant}",
        crit,
        logger,
        state,
        gap,
        it,
        tol,
        w,
        offsets,
        T,
        lam,
        atoms={k: a[1] for k, a in atoms.items()},
    )
