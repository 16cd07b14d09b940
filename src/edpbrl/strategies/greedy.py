"""ED-PBRL with greedy exact rounding (ours): the certified continuous design proposes, the
actual questions decide.

The static design d* says which tokens are worth asking about, but T sampled episodes realise its
information only in expectation, and for T·H comparable to d the realised criterion is far worse
than the design's (Jensen: E tr(M⁻¹) ≥ tr(E M⁻¹)). This strategy draws a pool of candidate
episodes from d* (options without replacement per step) and greedily picks the T episodes that
maximise log det(λI + Σ F̃_e) of the information their dense-feedback questions actually carry,
scored on additive prefix features (:mod:`.candidates`) rather than on the per-token surrogate.
θ-agnostic and static like the paper's method.
"""

from __future__ import annotations

import numpy as np

from ..design.pool import greedy_logdet, info_factors
from ..design.sampling import sample_episodes
from .base import StrategyContext
from .candidates import single_thread, surrogate_options
from .design import DesignStrategy
from .registry import STRATEGIES


class GreedyDesignStrategy(DesignStrategy):
    """Pool from the design, greedy log-det selection of the T episodes to ask."""

    def __init__(self, pool: int = 2000, **options):
        super().__init__(**{**options, "rounding": options.get("rounding", "without-replacement")})
        self.pool = pool

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        cand = sample_episodes(self.policies(ctx), ctx.k, max(self.pool, n), self.rounding, ctx.rng)
        with single_thread():
            U = info_factors(surrogate_options(ctx.mdp, cand))
            M0 = ctx.base_precision(U.dtype)
            chosen = greedy_logdet(M0, U, n)
        return cand[np.asarray(chosen)]


STRATEGIES.register(
    "ed-pbrl-greedy",
    GreedyDesignStrategy,
    help="pool drawn from the design, greedy log-det choice of the episodes to ask (ours)",
)
