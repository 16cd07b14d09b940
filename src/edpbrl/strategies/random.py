"""The paper's baseline: every option's token uniform over its slot's design words, i.i.d."""

from __future__ import annotations

import numpy as np

from ..design.sampling import sample_episodes
from .base import Strategy, StrategyContext
from .registry import STRATEGIES


class RandomStrategy(Strategy):
    """Uniform over each slot's design words (the paper's baseline), i.i.d. options."""

    def __init__(self, **_):
        self.design = None

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        policies = [np.ones(len(s)) for s in ctx.mdp.vocabulary.slots]
        return sample_episodes(policies, ctx.k, n, "iid", ctx.rng)


STRATEGIES.register(
    "random", RandomStrategy, help="uniform random tokens, i.i.d. options (the paper's baseline)"
)
