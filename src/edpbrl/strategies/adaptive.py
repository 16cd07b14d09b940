"""Adaptive ED-PBRL (ours): re-solve the design with the information already collected."""

from __future__ import annotations

import numpy as np
import torch

from ..design.information import query_fisher
from ..design.sampling import sample_episodes
from ..design.solvers import Design
from ..errors import EdpbrlError
from .base import StrategyContext, to_tensor
from .design import DesignStrategy
from .registry import STRATEGIES


class AdaptiveDesignStrategy(DesignStrategy):
    """Every ``every`` episodes, re-solve the design with ``extra`` = the Fisher information of the
    answers so far at the fitted θ̂ (from ``ctx.model``), for the episodes that remain, and plan
    the next block from it. Before any answer it is the static design. Plans are made one block at
    a time and handed out one episode per ``plan`` call."""

    adaptive = True

    def __init__(self, every: int = 5, **options):
        super().__init__(**{**options, "rounding": options.get("rounding", "iid")})
        if isinstance(every, bool) or not (isinstance(every, int) and every >= 1):
            raise EdpbrlError(f"every must be a positive integer, got {every!r}")
        self.every = every
        self.static: Design | None = None
        self._buffer: list[np.ndarray] = []
        self._planned = 0
        self.resolves = 0

    def extra_information(self, ctx: StrategyContext) -> torch.Tensor | None:
        """Fisher information (d, d) of the answered queries at the fitted θ̂; None before any."""
        if not ctx.X or ctx.model is None:
            return None
        X = to_tensor(np.stack(ctx.X), ctx.mdp.features.device)
        return query_fisher(X, ctx.model.theta.to(X.device))

    def _block(self, ctx: StrategyContext) -> None:
        extra = self.extra_information(ctx)
        if extra is None:
            if self.static is None:
                self.static = self.solve(ctx)
            self.design = self.static
        else:
            remaining = max(ctx.episodes - self._planned, self.every)
            sub = StrategyContext(
                ctx.mdp,
                ctx.k,
                remaining,
                ctx.lam,
                ctx.rng,
                progress=ctx.progress,
                prior_precision=ctx.prior_precision,
            )
            self.design = self.solve(sub, extra=extra.to(ctx.mdp.features.dtype))
            self.resolves += 1
        policies = [p.cpu().numpy() for p in ctx.mdp.policy_from_visitation(self.design.weights)]
        self._buffer = list(sample_episodes(policies, ctx.k, self.every, self.rounding, ctx.rng))

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            if not self._buffer:
                self._block(ctx)
            out.append(self._buffer.pop(0))
            self._planned += 1
        return np.stack(out)


STRATEGIES.register(
    "ed-pbrl-adaptive",
    AdaptiveDesignStrategy,
    help="re-solves the design every 5 episodes with the Fisher information at θ̂ (ours)",
)
