"""The strategy contract: what a query strategy sees and what it must return.

A strategy chooses the K trajectories of the next episodes. It receives a
:class:`StrategyContext`: the prompt MDP, K, the budget, λ, a random generator, the answered
queries' features and choices, and the **model already fitted** to them (``ctx.model``, the
regularised MLE with its Laplace precision). A strategy never refits the model itself — the
model belongs to the caller (:class:`~edpbrl.personalizer.Personalizer`), the choice of questions
to the strategy, as BoTorch separates models from acquisition functions.

``plan(ctx, n)`` returns an int array (n, K, H) of token indices: option k of episode e takes
token ``out[e, k, h]`` of slot h. :func:`check_plan` validates that. Static strategies
(``adaptive = False``) are asked once for the whole budget; adaptive ones one episode at a time,
with the context brought up to date before each call, and rewound (:meth:`Strategy.get_state` /
:meth:`Strategy.set_state`) when an undo drops episodes they planned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import EdpbrlError

if TYPE_CHECKING:  # pragma: no cover
    from ..choice import MLEResult
    from ..design.result import Design
    from ..mdp import PromptMDP


@dataclass
class StrategyContext:
    """What a strategy may look at.

    Attributes:
        mdp: the prompt MDP (token features ``mdp.features`` (N, d), slots ``mdp.vocabulary``).
        k: options per question K (≥ 2).
        episodes: the budget T in episodes.
        lam: the regulariser λ > 0 of design and estimator.
        rng: the strategy's random generator (questions are reproducible given the seed).
        X: answered queries' option features, each (K, d).
        y: the choices, each an int in range(K).
        model: the model fitted on (X, y) — :class:`~edpbrl.choice.MLEResult` with ``theta``
            (d,) and ``hessian`` (d, d), the Laplace posterior precision — or None before any
            answer (with a prior it is the prior itself: mean and precision). Kept up to date by
            the caller before every adaptive ``plan``.
        progress: optional callback ``progress(done, total, message)``.
        prior_precision: (d, d) the prior's precision on θ, used in place of λI by designs and
            baselines; None for the flat prior λI.
        encode: the learner's encoder, ``encode(texts) -> (n, d)`` array — the features the
            answers are learned from — for strategies that score whole prompts rather than the
            per-token surrogate; None where the caller has none.
        prior_mean: (d,) the prior's mean of θ (moved by the person's words), set with ``model``
            by the caller; None for the flat prior (mean 0).
    """

    mdp: PromptMDP
    k: int
    episodes: int
    lam: float
    rng: np.random.Generator
    X: list = field(default_factory=list)
    y: list = field(default_factory=list)
    model: MLEResult | None = None
    progress: Callable | None = None
    prior_precision: torch.Tensor | None = None
    encode: Callable | None = None
    prior_mean: torch.Tensor | None = None

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 2:
            raise EdpbrlError(f"k must be an integer ≥ 2, got {self.k!r}")
        if not self.episodes > 0:
            raise EdpbrlError(f"episodes must be > 0, got {self.episodes!r}")
        if isinstance(self.lam, bool) or not (isinstance(self.lam, int | float) and self.lam > 0):
            raise EdpbrlError(f"λ must be > 0, got {self.lam}")

    def base_precision(self, dtype=torch.float64, device="cpu") -> torch.Tensor:
        """The information before any answer (d, d): the prior's precision, or λI."""
        if self.prior_precision is not None:
            return self.prior_precision.to(dtype=dtype, device=device)
        return self.lam * torch.eye(self.mdp.dim, dtype=dtype, device=device)

    def base_mean(self, dtype=torch.float64, device="cpu") -> torch.Tensor:
        """The prior's mean of θ (d,): ``prior_mean``, or 0 for the flat prior."""
        if self.prior_mean is not None:
            return self.prior_mean.to(dtype=dtype, device=device)
        return torch.zeros(self.mdp.dim, dtype=dtype, device=device)

    def design_regulariser(self) -> tuple[float, torch.Tensor | None]:
        """(λ, P) for the design solvers, whose constant part of M is λP: (1, prior precision)
        with a prior, (λ, None = I) without."""
        return (1.0, self.prior_precision) if self.prior_precision is not None else (self.lam, None)


class Strategy(ABC):
    """Base class of every query strategy (see the module docstring).

    Attributes:
        name: the registry key it was made under.
        adaptive: False — planned once for all episodes; True — planned one episode at a time
            from the answers so far.
        design: the solved :class:`~edpbrl.design.result.Design` behind the questions, if any
            (its certificate is shown to users).
    """

    name: str = "base"
    adaptive: bool = False
    design: Design | None = None

    @abstractmethod
    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        """Token indices (n, K, H) of the next n episodes."""

    def get_state(self) -> dict:
        """What :meth:`plan` may change, to put back with :meth:`set_state` (an undo that drops
        planned episodes of an adaptive strategy rewinds it, so that it plans them again exactly
        as a replay of the remaining answers would). Default: the instance's attributes, NumPy
        arrays, lists, dicts and sets copied, anything else (tensors, designs) shared — so
        ``plan`` must not change a tensor in place. A strategy with other mutable state overrides
        both."""
        return {key: _copied(v) for key, v in vars(self).items()}

    def set_state(self, state: dict) -> None:
        """Put back what :meth:`get_state` returned (the state itself stays reusable)."""
        vars(self).clear()
        vars(self).update({key: _copied(v) for key, v in state.items()})


def _copied(value):
    """A copy of a mutable container (NumPy array, list, dict, set), else ``value`` itself."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | dict | set):
        return type(value)(value)
    return value


def check_plan(episodes, ctx: StrategyContext, n: int, who: str = "strategy") -> np.ndarray:
    """Validate a strategy's output: an int array (n, K, H) with every index inside its slot."""
    sizes = ctx.mdp.vocabulary.sizes
    out = np.asarray(episodes)
    if out.shape != (n, ctx.k, len(sizes)):
        raise EdpbrlError(f"{who} returned shape {out.shape}, expected {(n, ctx.k, len(sizes))}")
    if not np.issubdtype(out.dtype, np.integer):
        raise EdpbrlError(f"{who} returned {out.dtype} token indices, expected integers")
    if n and ((out < 0).any() or (out >= np.asarray(sizes)).any()):
        raise EdpbrlError(f"{who} returned a token index outside its slot")
    return out.astype(np.int64, copy=False)


def to_tensor(a, device="cpu") -> torch.Tensor:
    """A float64 tensor on ``device``."""
    return torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)
