"""``info-gain`` (APReL-style): adaptive expected information gain under a Laplace posterior.

Before each episode the caller's fitted model gives θ̂ and its posterior precision H (the Hessian
of the regularised MLE); a fresh pool of random candidates is drawn and the one with the largest
log det(I + H⁻¹ F̃_e(θ̂)) — the information gain of the Gaussian posterior — is asked.
"""

from __future__ import annotations

import numpy as np
import torch

from ..design.pool import info_factors, logdet_gains
from .base import Strategy, StrategyContext
from .candidates import random_pool, single_thread, surrogate_options
from .registry import STRATEGIES

Tensor = torch.Tensor


class InfoGainStrategy(Strategy):
    """Adaptive: the pool candidate with the largest expected information gain at θ̂."""

    adaptive = True

    def __init__(self, pool: int = 200, **_):
        self.pool = pool
        self.design = None

    @staticmethod
    def posterior(ctx: StrategyContext) -> tuple[Tensor | None, Tensor]:
        """(θ̂ or None before any answer, posterior precision H = Fisher(θ̂) + λI or + the prior's
        precision) from ctx.model."""
        if ctx.model is None:
            return None, ctx.base_precision()
        return ctx.model.theta.cpu(), ctx.model.hessian.cpu()

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        with single_thread():
            theta, H = self.posterior(ctx)
            out = []
            for _ in range(n):
                cand = random_pool(ctx, self.pool)
                U = info_factors(surrogate_options(ctx.mdp, cand), theta)
                best = int(torch.argmax(logdet_gains(H, U)))
                out.append(cand[best])
                H = H + U[best] @ U[best].T  # planning several at once: count the chosen ones
        return np.stack(out)


STRATEGIES.register(
    "info-gain", InfoGainStrategy, help="adaptive expected information gain from a random pool (APReL-style)"
)
