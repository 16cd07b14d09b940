"""Static designs over one mixture visitation (the concave relaxation of the paper's K-policy
design): solve it once (certified), then draw the questions from it — i.i.d., without
replacement, or by efficient rounding. The paper's own K-policy design is in :mod:`.kpolicy`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from ..design.result import design_from_state
from ..design.sampling import ROUNDINGS, sample_episodes
from ..design.solvers import Design, solve_design
from ..errors import EdpbrlError
from .base import Strategy, StrategyContext
from .registry import STRATEGIES

# Static designs are deterministic functions of (features, criterion, T, λ, K, solver settings):
# sessions and simulation runs in one process share them (a few entries, oldest evicted first),
# and they are kept on disk too, so that the processes of an experiment or a restarted server
# solve each design once (``$EDPBRL_DESIGN_CACHE_DIR``, default ~/.cache/edpbrl/designs; "off"
# turns the disk cache off).
_DESIGN_CACHE: dict = {}
_CACHE_SIZE = 8
DESIGN_CACHE_ENV = "EDPBRL_DESIGN_CACHE_DIR"
_CACHE_LOCK = threading.Lock()
_SOLVING: dict = {}  # key -> lock held while one thread solves that design (others wait for it)
MAX_BANK = 100_000  # question sets in a bank (see DesignStrategy)
_BANK_SEED = 0x9E3779B9  # with the set's index, seeds a bank's question set


def _features_hash(mdp):
    """A sha1 of the MDP's features and slot sizes, kept on the MDP (shared MDPs hash once);
    callers ``copy()`` it before adding more."""
    h = getattr(mdp, "_features_sha1", None)
    if h is None:
        h = hashlib.sha1(mdp.features.detach().cpu().numpy().tobytes())
        h.update(repr(mdp.vocabulary.sizes).encode())
        try:
            mdp._features_sha1 = h
        except AttributeError:  # a domain with __slots__: hash every time
            pass
    return h


def clear_design_cache() -> None:
    """Forget every design cached in memory (e.g. to time a design from scratch; the disk cache
    stays — set ``EDPBRL_DESIGN_CACHE_DIR=off`` for that)."""
    _DESIGN_CACHE.clear()


def design_cache_dir() -> Path | None:
    """Where static designs are kept on disk; None when the disk cache is off."""
    env = os.environ.get(DESIGN_CACHE_ENV)
    if env and env.lower() in ("off", "0", "none"):
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edpbrl" / "designs"


def _disk_path(key: tuple) -> Path | None:
    root = design_cache_dir()
    return None if root is None else root / (hashlib.sha256(repr(key).encode()).hexdigest()[:32] + ".pt")


def _load(key: tuple, device) -> Design | None:
    path = _disk_path(key)
    if path is None or not path.is_file():
        return None
    try:
        return design_from_state(torch.load(path, map_location="cpu", weights_only=True), device)
    except Exception:  # unreadable or from another version: solve again and overwrite
        return None


def _save(key: tuple, design: Design) -> None:
    path = _disk_path(key)
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            torch.save(design.state_dict(), f)
        os.replace(tmp, path)
        tmp = None
    except OSError:  # a cache that cannot be written only costs time
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class DesignStrategy(Strategy):
    """A static θ-agnostic mixture design (solved once, certified), then options sampled from it.

    ``rounding``: how the design becomes questions (see :mod:`edpbrl.design.sampling`).
    ``criterion``, ``tol``, ``max_iter``, ``device``: the design solver's settings; ``prior``: a
    prior precision (d, d) in place of the identity in λI.

    ``bank``: 0 (default) draws each session's questions afresh from the design. ``bank=B`` draws
    B question sets from it once — set b with a generator seeded by b alone, so every session
    with this design and budget has the same B sets — and each session asks one of them, chosen
    by its own generator (:meth:`bank_plan`). Each session's questions are still one draw of the
    design's rounding; a server encodes the bank's options once (they are most of the encoder's
    work per person) instead of once per person. Episodes added later (``extend``) are fresh draws.
    """

    def __init__(
        self,
        criterion: str = "A",
        rounding: str = "iid",
        tol: float = 1e-4,
        device: str = "cpu",
        prior=None,
        max_iter: int = 500,
        bank: int = 0,
        **_,
    ):
        if rounding not in ROUNDINGS:
            raise EdpbrlError(f"unknown rounding '{rounding}': expected {', '.join(ROUNDINGS)}")
        if isinstance(bank, bool) or not isinstance(bank, int) or not 0 <= bank <= MAX_BANK:
            raise EdpbrlError(
                f"bank must be an integer in 0..{MAX_BANK:,} (question sets shared by sessions; "
                f"0: fresh draws), got {bank!r}"
            )
        self.criterion, self.rounding, self.tol, self.device = criterion, rounding, tol, device
        self.prior, self.max_iter, self.bank = prior, max_iter, bank
        self.design = None
        self._planned = 0  # episodes planned so far (the first plan is the bank's)

    def solve(self, ctx: StrategyContext, extra=None) -> Design:
        """The design for ``ctx`` (cached when θ-agnostic); ``extra`` (d, d) is added to M."""
        if extra is not None or self.prior is not None:  # θ- or strategy-specific: not cached
            return self._solve(ctx, extra, self._progress(ctx))
        key = self._key(ctx)  # the static design is θ-agnostic: cache it
        with _CACHE_LOCK:
            if key in _DESIGN_CACHE:
                return _DESIGN_CACHE[key]
            solving = _SOLVING.setdefault(key, threading.Lock())
        # single flight: sessions created or restored at once wait for one solve (or disk read)
        with solving:
            with _CACHE_LOCK:
                if key in _DESIGN_CACHE:
                    return _DESIGN_CACHE[key]
            try:
                design = _load(key, ctx.mdp.features.device)
                if design is None:
                    design = self._solve(ctx, None, self._progress(ctx))
                    _save(key, design)
                with _CACHE_LOCK:
                    if len(_DESIGN_CACHE) >= _CACHE_SIZE:
                        _DESIGN_CACHE.pop(next(iter(_DESIGN_CACHE)))
                    _DESIGN_CACHE[key] = design
            finally:
                with _CACHE_LOCK:
                    _SOLVING.pop(key, None)
        return design

    @staticmethod
    def _progress(ctx: StrategyContext):
        if ctx.progress is None:
            return None
        return lambda i, n, msg: ctx.progress(i, n, f"design: {msg}")

    def _key(self, ctx: StrategyContext) -> tuple:
        """What a θ-agnostic design depends on: features, slot sizes, prior, criterion, T, λ, solver."""
        h = _features_hash(ctx.mdp).copy()
        if ctx.prior_precision is not None:
            h.update(ctx.prior_precision.detach().cpu().numpy().tobytes())
        key = (type(self).__name__, h.hexdigest(), self.criterion, float(ctx.episodes), float(ctx.lam))
        return key + (self.tol, self.max_iter, str(self.device))

    def _regulariser(self, ctx: StrategyContext) -> tuple[float, torch.Tensor | None]:
        """(λ, P): the strategy's own ``prior`` (a precision replacing I in λI) if given, else the
        context's prior precision, else λI."""
        return (ctx.lam, self.prior) if self.prior is not None else ctx.design_regulariser()

    def _solve(self, ctx: StrategyContext, extra, progress) -> Design:
        lam, prior = self._regulariser(ctx)
        return solve_design(
            ctx.mdp,
            criterion=self.criterion,
            episodes=ctx.episodes,
            lam=lam,
            tol=self.tol,
            device=self.device,
            prior=prior,
            extra=extra,
            max_iter=self.max_iter,
            progress=progress,
        )

    def policies(self, ctx: StrategyContext) -> list[np.ndarray]:
        """The design's per-slot token distributions π_h (list of (n_h,)), solving it first."""
        if self.design is None:
            self.design = self.solve(ctx)
        return [p.cpu().numpy() for p in ctx.mdp.policy_from_visitation(self.design.weights)]

    def bank_plan(self, ctx: StrategyContext, index: int, n: int) -> np.ndarray:
        """Question set ``index`` of the bank: n episodes (n, K, H) drawn from the design with a
        generator seeded by ``index`` alone (the same for every session with this design)."""
        rng = np.random.default_rng([_BANK_SEED, int(index)])
        return sample_episodes(self.policies(ctx), ctx.k, n, self.rounding, rng)

    def plan(self, ctx: StrategyContext, n: int) -> np.ndarray:
        first, self._planned = self._planned == 0, self._planned + n
        if self.bank and first:
            return self.bank_plan(ctx, int(ctx.rng.integers(self.bank)), n)
        return sample_episodes(self.policies(ctx), ctx.k, n, self.rounding, ctx.rng)


def _static(rounding: str):
    def make(*, bank: int = 0, **options) -> DesignStrategy:
        return DesignStrategy(**{**options, "rounding": rounding, "bank": bank})

    return make


STRATEGIES.register(
    "ed-pbrl-mixture",
    _static("iid"),
    help="static mixture design (the concave relaxation), K options drawn i.i.d. from it",
)
STRATEGIES.register(
    "ed-pbrl-wor", _static("without-replacement"), help="static design, distinct options per question"
)
STRATEGIES.register(
    "ed-pbrl-rounded",
    _static("efficient"),
    help="static design realised by efficient rounding (no duplicate options; the app's default)",
)
