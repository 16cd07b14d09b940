"""When to stop asking: how sure the estimate is about the person's rankings.

Under the Laplace posterior θ ~ N(θ̂, H⁻¹) (H the MAP's Hessian: the answers' Fisher information
plus the prior's precision), the probability that the person orders two prompts x_i, x_j the other
way round than θ̂ does is

    P(sign θᵀΔ ≠ sign θ̂ᵀΔ) = Φ(−|θ̂ᵀΔ| / √(Δᵀ H⁻¹ Δ)),   Δ = x_i − x_j.

Averaged over pairs of candidate prompts this is the *expected preference error*: the posterior's
own forecast of the error that the evaluation measures on held-out pairs. A session stops when it
drops below a target, or at a cap on the number of questions (:class:`StopRule`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import EdpbrlError


def expected_pair_error(theta, hessian, X, pairs) -> float:
    """Mean over ``pairs`` (m, 2) of Φ(−|θ̂ᵀΔ| / √(ΔᵀH⁻¹Δ)); θ̂ (d,), H (d, d) positive definite,
    X (n, d) candidate prompts' features. A pair with Δ = 0 counts ½ (a coin flip)."""
    # imported here, not with the module: SciPy's stats and linalg take 0.5 s to import, which a
    # restarted server would otherwise spend before it accepts requests
    from scipy.linalg import solve_triangular
    from scipy.stats import norm

    theta = np.asarray(theta, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    H = np.asarray(hessian, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64)
    try:
        L = np.linalg.cholesky(0.5 * (H + H.T))
    except np.linalg.LinAlgError:
        raise EdpbrlError("the posterior precision is not positive definite") from None
    # L⁻¹Δ has squared norm ΔᵀH⁻¹Δ; solve once per candidate (n ≪ m), then difference the pairs
    W = solve_triangular(L, X.T, lower=True, check_finite=False)  # (d, n)
    u = X @ theta
    mean = u[pairs[:, 0]] - u[pairs[:, 1]]
    Z = W[:, pairs[:, 0]] - W[:, pairs[:, 1]]  # (d, m)
    sd = np.sqrt((Z * Z).sum(0))
    err = np.where(sd > 0, norm.cdf(-np.abs(mean) / np.maximum(sd, 1e-300)), 0.5)
    err = np.where((sd == 0) & (mean != 0), 0.0, err)
    return float(err.mean())


def top_probability(theta, hessian, X, top: int) -> float:
    """Posterior probability that candidate ``top`` (the estimate's best) beats a random other
    candidate: mean over j ≠ top of Φ(θ̂ᵀΔ / √(ΔᵀH⁻¹Δ)), Δ = x_top − x_j."""
    n = np.asarray(X).shape[0]
    pairs = np.array([[top, j] for j in range(n) if j != top])
    if len(pairs) == 0:
        return 1.0
    return 1.0 - expected_pair_error(theta, hessian, X, pairs)


@dataclass(frozen=True)
class StopRule:
    """Stop after ``max_questions`` answered questions, or as soon as the expected preference
    error is at most ``target_error`` (None: only the cap), but never before ``min_questions``."""

    max_questions: int | None = 30
    target_error: float | None = None
    min_questions: int = 0

    def __post_init__(self):
        if self.max_questions is not None and (
            not isinstance(self.max_questions, int) or self.max_questions < 1
        ):
            raise EdpbrlError(f"max_questions must be a positive integer, got {self.max_questions!r}")
        if self.target_error is not None and not 0 < self.target_error < 0.5:
            raise EdpbrlError(f"target_error must be in (0, 0.5), got {self.target_error}")
        if not isinstance(self.min_questions, int) or self.min_questions < 0:
            raise EdpbrlError(f"min_questions must be a non-negative integer, got {self.min_questions!r}")

    def done(self, answered: int, expected_error: float | None) -> bool:
        if self.max_questions is not None and answered >= self.max_questions:
            return True
        if answered < self.min_questions or self.target_error is None or expected_error is None:
            return False
        return expected_error <= self.target_error


CONFIDENCE_LEVELS = ((0.1, "very sure"), (0.2, "fairly sure"), (0.3, "somewhat sure"))


def confidence_words(expected_error: float, n_answers: int) -> str:
    """How sure an estimate is, in plain words, from its expected preference error on pairs of
    prompts (:func:`expected_pair_error`; ½ is a coin flip)."""
    if not 0 <= expected_error <= 1:
        raise EdpbrlError(f"expected_error must be in [0, 1], got {expected_error!r}")
    level = next((name for bound, name in CONFIDENCE_LEVELS if expected_error <= bound), "not sure yet")
    agree = round(100 * (1 - expected_error))
    answers = "answer" if n_answers == 1 else "answers"
    return (
        f"{level[0].upper()}{level[1:]}: of 100 pairs of prompts, I expect to rank about {agree} the way "
        f"you would (after {n_answers} {answers})."
    )
