"""Adaptive pool strategies under a Laplace posterior: ``info-gain`` and ``score-gain``.

Before each episode the caller's fitted model gives θ̂ and its posterior precision H (the Hessian
of the regularised MLE); a fresh pool of random candidates is drawn and the best one is asked:

* ``info-gain`` (APReL-style): the largest log det(I + H⁻¹ F̃_e(θ̂)), the information gain of the
  Gaussian posterior — every direction of taste counts alike.
* ``score-gain`` (ours, targeted): the largest drop tr(V H⁻¹) − tr(V (H + F̃_e)⁻¹) of the posterior
  variance of the scores of the prompts the vocabulary makes, V (d, d) the covariance of their
  (prefix) features. What matters for ranking prompts is θ's component along the directions in
  which prompts differ; directions that barely separate prompts are not worth a question.
"""

from __future__ import annotations

import numpy as np
import torch

from ..design.pool import info_factors, logdet_gains, variance_gains
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


class ScoreGainStrategy(InfoGainStrategy):
    """Adaptive: the pool candidate that most lowers the posterior variance of prompt scores."""

    def __init__(self, pool: int = 200, v_pool: int = 2000, **_):
        super().__init__(pool=pool)
        self.v_pool = v_pool
        self.V: Tensor | None = None

    def score_covariance(self, ctx: StrategyContext) -> Tensor:
        """V (d, d): the covariance of the surrogate features of random prompt prefixes, centred
        per step and summed over steps (the prompts the answers should learn to rank)."""
        if self.V is None:
            rng = np.random.default_rng(0)  # V belongs to the vocabulary, not to the session's draws
            sizes = [len(s) for s in ctx.mdp.vocabulary.slots]
            cand = np.stack([rng.integers(m, size=(self.v_pool, 1)) for m in sizes], -1)
            X = surrogate_options(ctx.mdp, cand)[:, 0]  # (n, H, d)
            Xc = X - X.mean(0)
            self.V = torch.einsum("nhd,nhe->de", Xc, Xc) / X.shape[0]
        return self.V

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        with single_thread():
            theta, H = self.posterior(ctx)
            V = self.score_covariance(ctx).to(H.dtype)
            out = []
            for _ in range(n):
                cand = random_pool(ctx, self.pool)
                U = info_factors(surrogate_options(ctx.mdp, cand), theta)
                best = int(torch.argmax(variance_gains(H, U, V)))
                out.append(cand[best])
                H = H + U[best] @ U[best].T
        return np.stack(out)


STRATEGIES.register(
    "info-gain", InfoGainStrategy, help="adaptive expected information gain from a random pool (APReL-style)"
)
STRATEGIES.register(
    "score-gain",
    ScoreGainStrategy,
    help="adaptive: the random-pool question that most lowers the posterior variance of prompt scores (ours)",
)
