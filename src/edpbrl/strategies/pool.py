"""``dopt-pool`` (Mukherjee et al. 2024): static, θ-agnostic D-optimal selection from a pool.

A pool of uniform random candidate episodes; greedily (lazily — log det is submodular) pick the T
episodes maximising log det(λI + Σ F̃_e) of their dense-feedback questions on additive prefix
features (:mod:`.candidates`).
"""

from __future__ import annotations

import numpy as np

from ..design.pool import greedy_logdet, info_factors
from .base import Strategy, StrategyContext
from .candidates import random_pool, single_thread, surrogate_options
from .registry import STRATEGIES


class DOptPoolStrategy(Strategy):
    """Static greedy D-optimal selection of T episodes from a pool of random candidates."""

    def __init__(self, pool: int = 2000, **_):
        self.pool = pool
        self.design = None

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        with single_thread():
            cand = random_pool(ctx, max(self.pool, n))
            U = info_factors(surrogate_options(ctx.mdp, cand))
            M0 = ctx.base_precision(U.dtype)
            chosen = greedy_logdet(M0, U, n)
        return cand[chosen]


STRATEGIES.register(
    "dopt-pool", DOptPoolStrategy, help="greedy D-optimal episodes from a random pool (Mukherjee et al. 2024)"
)
