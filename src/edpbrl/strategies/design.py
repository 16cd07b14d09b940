"""ED-PBRL's static design: solve the θ-agnostic design once (certified), then draw the questions
from it — i.i.d. (the paper's sampling), without replacement, or by efficient rounding."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from ..design.sampling import ROUNDINGS, sample_episodes
from ..design.solvers import Design, solve_design
from ..errors import EdpbrlError
from .base import Strategy, StrategyContext
from .registry import STRATEGIES

# Static designs are deterministic functions of (features, criterion, T, λ, solver settings):
# sessions and simulation runs in one process share them (a few entries, oldest evicted first).
_DESIGN_CACHE: dict = {}
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()
_SOLVING: dict = {}  # key -> lock held while one thread solves that design (others wait for it)


def clear_design_cache() -> None:
    """Forget every cached static design (e.g. to time a design from scratch)."""
    _DESIGN_CACHE.clear()


def _features_digest(mdp) -> str:
    """A digest of the MDP's features and slot sizes (kept on the MDP: shared MDPs hash once)."""
    digest = getattr(mdp, "_features_digest", None)
    if digest is None:
        h = hashlib.sha1(mdp.features.detach().cpu().numpy().tobytes())
        h.update(repr(mdp.vocabulary.sizes).encode())
        digest = h.hexdigest()
        try:
            mdp._features_digest = digest
        except AttributeError:  # a domain with __slots__: hash every time
            pass
    return digest


class DesignStrategy(Strategy):
    """ED-PBRL: a static θ-agnostic design (solved once, certified), then options sampled from it.

    ``rounding``: how the design becomes questions (see :mod:`edpbrl.design.sampling`).
    ``criterion``, ``tol``, ``max_iter``, ``device``: the design solver's settings; ``prior``: a
    prior precision (d, d) in place of the identity in λI.
    """

    def __init__(
        self,
        criterion: str = "A",
        rounding: str = "iid",
        tol: float = 1e-4,
        device: str = "cpu",
        prior=None,
        max_iter: int = 500,
        **_,
    ):
        if rounding not in ROUNDINGS:
            raise EdpbrlError(f"unknown rounding '{rounding}': expected {', '.join(ROUNDINGS)}")
        self.criterion, self.rounding, self.tol, self.device = criterion, rounding, tol, device
        self.prior, self.max_iter = prior, max_iter
        self.design = None

    def solve(self, ctx: StrategyContext, extra=None) -> Design:
        """The design for ``ctx`` (cached when θ-agnostic); ``extra`` (d, d) is added to M."""
        mdp = ctx.mdp
        key = None
        if extra is None and self.prior is None:  # the static design is θ-agnostic: cache it
            key = (_features_digest(mdp), self.criterion, float(ctx.episodes), float(ctx.lam), self.tol)
            key += (self.max_iter, str(self.device))
            with _CACHE_LOCK:
                if key in _DESIGN_CACHE:
                    return _DESIGN_CACHE[key]
                solving = _SOLVING.setdefault(key, threading.Lock())
            # single flight: sessions created or restored at once wait for one solve
            with solving:
                with _CACHE_LOCK:
                    if key in _DESIGN_CACHE:
                        return _DESIGN_CACHE[key]
                try:
                    design = self._solve(ctx, None)
                    with _CACHE_LOCK:
                        if len(_DESIGN_CACHE) >= _CACHE_SIZE:
                            _DESIGN_CACHE.pop(next(iter(_DESIGN_CACHE)))
                        _DESIGN_CACHE[key] = design
                finally:
                    with _CACHE_LOCK:
                        _SOLVING.pop(key, None)
            return design
        return self._solve(ctx, extra)

    def _solve(self, ctx: StrategyContext, extra) -> Design:
        mdp = ctx.mdp
        prog = None
        if ctx.progress is not None:
            prog = lambda i, n, msg: ctx.progress(i, n, f"design: {msg}")  # noqa: E731
        design = solve_design(
            mdp,
            criterion=self.criterion,
            episodes=ctx.episodes,
            lam=ctx.lam,
            tol=self.tol,
            device=self.device,
            prior=self.prior,
            extra=extra,
            max_iter=self.max_iter,
            progress=prog,
        )
        return design

    def policies(self, ctx: StrategyContext) -> list[np.ndarray]:
        """The design's per-slot token distributions π_h (list of (n_h,)), solving it first."""
        if self.design is None:
            self.design = self.solve(ctx)
        return [p.cpu().numpy() for p in ctx.mdp.policy_from_visitation(self.design.weights)]

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        return sample_episodes(self.policies(ctx), ctx.k, n, self.rounding, ctx.rng)


def _static(rounding: str):
    def make(**options) -> DesignStrategy:
        return DesignStrategy(**{**options, "rounding": rounding})

    return make


STRATEGIES.register(
    "ed-pbrl", _static("iid"), help="static θ-agnostic design, options drawn i.i.d. from it (the paper)"
)
STRATEGIES.register(
    "ed-pbrl-wor", _static("without-replacement"), help="static design, distinct options per question"
)
STRATEGIES.register(
    "ed-pbrl-rounded",
    _static("efficient"),
    help="static design realised by efficient rounding (no duplicate options; the app's default)",
)
