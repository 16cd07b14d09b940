"""``risk-gain-encoded`` (ours): questions chosen for this person's error, bias included.

``score-gain-encoded`` lowers the posterior variance of prompt scores, T = tr(C H⁻¹) — the Bayes
risk, the error averaged over people drawn from the prior. ``edpbrl experiment ceiling`` shows why
that is not enough with a population prior: at 30 questions 64–95 % of one person's expected error
is *bias* (the prior's mean pulling the estimate away from where this person departs from the
population), which variance-driven choice does not lower; an oracle that knows the person's θ and
chooses by their own error R beats random questions where the variance oracle does not.

This strategy chooses by an estimate of R. For the MAP estimate under a prior of precision P and
mean m, the linearised error of the scores that C weights is

    R(H) = tr(C H⁻¹) + tr(H⁻¹ C H⁻¹ (bbᵀ − P)),    b = P(m − θ),

and the unknown bbᵀ is replaced by its expectation under a belief about the person's departure
θ − m with second moment S: E[bbᵀ] = P S P. The belief is the current Laplace posterior, with its
covariance optionally widened (the person may be less typical than the prior says):

    S = γ (θ̂ − m)(θ̂ − m)ᵀ + τ² H⁻¹,

γ = ``bias_weight`` and τ² = ``spread``. With γ = τ² = 1 it is the Laplace posterior itself:
before any answer (θ̂ = m, H = P) the criterion is then T and the first question is
score-gain-encoded's, and as the answers move θ̂ away from m the questions turn to the directions in
which the prior's pull on this person is largest. The defaults, γ = 0 and τ² = 2 (a person twice as
far from the population as the prior expects: the paper's styles measure 1.9–4.4), were the best
of three settings on a 5–6-seed pilot (docs/results.md), where the posterior plug-in (γ = τ² = 1)
was behind random questions at 30. The gains of all candidates come from one Cholesky factor and a
Woodbury update (:func:`~edpbrl.design.pool.risk_gains`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..design.pool import risk_gains
from ..errors import EdpbrlError
from .base import StrategyContext
from .info_gain import EncodedScoreGainStrategy
from .registry import STRATEGIES

Tensor = torch.Tensor


def _non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
        raise EdpbrlError(f"{name} must be a finite number ≥ 0, got {value!r}")
    return float(value)


class RiskGainStrategy(EncodedScoreGainStrategy):
    """Adaptive: from the fixed encoded pool, the episode that most lowers this person's expected
    score error, bias included (module docstring)."""

    def __init__(
        self, pool: int = 600, pool_seed: int = 0, bias_weight: float = 0.0, spread: float = 2.0, **_
    ):
        super().__init__(pool=pool, pool_seed=pool_seed)
        self.bias_weight = _non_negative("bias_weight", bias_weight)
        self.spread = _non_negative("spread", spread)

    def bias_moment(self, ctx: StrategyContext, theta: Tensor | None, H: Tensor) -> Tensor:
        """D = P S P − P (d, d): E[bbᵀ] − P under the belief S about θ − m (module docstring)."""
        P = ctx.base_precision(H.dtype)
        S = self.spread * torch.cholesky_inverse(torch.linalg.cholesky(0.5 * (H + H.T)))
        if theta is not None and self.bias_weight:
            delta = theta.to(H.dtype) - ctx.base_mean(H.dtype)
            S = S + self.bias_weight * torch.outer(delta, delta)
        D = P @ S @ P - P
        return 0.5 * (D + D.T)

    def pool_gains(self, ctx: StrategyContext, theta: Tensor | None, H: Tensor):
        """The drop in J (module docstring) for each pool episode, the belief fixed for this plan."""
        C, D = self.V.to(H.dtype), self.bias_moment(ctx, theta, H)
        return lambda H, U: risk_gains(H, U, C, D)


STRATEGIES.register(
    "risk-gain-encoded",
    RiskGainStrategy,
    help="adaptive: the encoded-pool question that most lowers this person's expected score error, "
    "the prior's bias included (ours)",
)
