"""Finite-horizon MDPs whose trajectories are queries.

Both classes expose the same "design domain" used by the solvers:

* ``features`` (N, d): the feature φ of every row, a row being one (step, state, action);
* ``offsets`` (H+1,): rows of step h are ``offsets[h]:offsets[h+1]``;
* ``uniform()`` (N,): visitation of the uniformly random policy (a feasible start);
* ``best_response(reward (N,))`` → (vertex id, visitation (N,)): the linear oracle;
* ``vertex_visitation(vertex id)`` (N,);
* ``product_of_simplices``: whether the polytope is one simplex per step (the fast solvers' case).

Both satisfy :class:`edpbrl.design.domain.DesignDomain`.

:class:`TabularMDP` is the general case (sparse transitions, per-step features).
:class:`PromptMDP` is the paper's prompt MDP (state = slot index, one token per slot): its
visitation polytope is a product of simplices, which the fast solver exploits.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Sequence

import numpy as np
import torch

from .design.oracle import backward_induction, forward_visitation
from .errors import DesignError
from .vocab import Vocabulary

Tensor = torch.Tensor

# PromptMDP.shared: per encoder object (weakly held), {(vocabulary digest, device, dtype): mdp}
_SHARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()
_BUILDING: dict = {}  # (id(encoder), key) -> lock held while one thread builds that MDP
_SHARED_PER_ENCODER = 4


def _check_features(F: Tensor, what: str) -> None:
    if not torch.isfinite(F).all():
        raise DesignError(f"{what} contain NaN or infinite values")


def vocabulary_digest(vocabulary: Vocabulary) -> str:
    """A digest of a vocabulary's slot names and entries (equal content, equal digest)."""
    h = hashlib.sha1()
    for slot in vocabulary.slots:
        h.update(slot.name.encode("utf-8", "surrogatepass") + b"\x01")
        for e in slot.entries:
            h.update(e.encode("utf-8", "surrogatepass") + b"\x00")
        h.update(b"\x02")
    return h.hexdigest()


class TabularMDP:
    """Finite-horizon tabular MDP with known transitions and per-step features.

    transitions: (S, A, S) array or a scipy/torch sparse matrix of shape (S·A, S), rows summing to
    one over valid actions; initial: (S,) distribution; horizon H; features: (S, A, d) or
    (H, S, A, d); valid: optional (S, A) bool mask of allowed actions.
    Row index of (h, s, a) is h·S·A + s·A + a. A vertex is a deterministic policy (H, S).
    """

    product_of_simplices = False

    def __init__(
        self,
        transitions,
        initial,
        horizon: int,
        features,
        valid=None,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ):
        F = torch.as_tensor(np.asarray(features), dtype=dtype, device=device)
        if F.ndim == 3:
            F = F.expand(horizon, *F.shape)
        if F.ndim != 4 or F.shape[0] != horizon:
            raise DesignError(f"features must be (S, A, d) or (H, S, A, d), got {tuple(F.shape)}")
        _check_features(F, "features")
        _, S, A, d = F.shape
        if horizon < 1:
            raise DesignError(f"horizon must be ≥ 1, got {horizon}")
        if hasattr(transitions, "tocoo"):  # scipy sparse
            coo = transitions.tocoo()
            idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
            P = torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data, dtype=dtype), (S * A, S))
            P = P.coalesce().to(device)
        elif isinstance(transitions, torch.Tensor) and transitions.is_sparse:
            P = transitions.to(device=device, dtype=dtype).coalesce()
        else:
            Pd = torch.as_tensor(np.asarray(transitions), dtype=dtype, device=device)
            if Pd.shape != (S, A, S):
                raise DesignError(f"transitions must be (S, A, S) = {(S, A, S)}, got {tuple(Pd.shape)}")
            P = Pd.reshape(S * A, S)
        if tuple(P.shape) != (S * A, S):
            raise DesignError(f"sparse transitions must be (S·A, S) = {(S * A, S)}, got {tuple(P.shape)}")
        rho = torch.as_tensor(np.asarray(initial), dtype=dtype, device=device)
        if rho.shape != (S,) or (rho < 0).any() or abs(float(rho.sum()) - 1) > 1e-8:
            raise DesignError("initial must be a probability vector of length S")
        self.valid = (
            torch.ones(S, A, dtype=torch.bool, device=device)
            if valid is None
            else torch.as_tensor(np.asarray(valid), dtype=torch.bool, device=device)
        )
        if not self.valid.any(dim=1).all():
            raise DesignError("every state needs at least one valid action")
        rows = (P.to_dense() if P.is_sparse else P).sum(1).reshape(S, A)
        if ((rows - 1).abs() > 1e-6)[self.valid].any():
            raise DesignError("transition rows P(·|s,a) must sum to one for valid actions")
        self.P, self.initial, self.horizon = P, rho, horizon
        self.n_states, self.n_actions, self.dim = S, A, d
        self._F = F
        self.features = F.reshape(horizon * S * A, d)
        self.offsets = torch.arange(horizon + 1, device=device) * (S * A)

    def visitation(self, policy: Tensor) -> Tensor:
        """(H, S, A) visitation of a deterministic (H, S) or stochastic (H, S, A) policy."""
        return forward_visitation(policy, self.P, self.initial)

    def uniform(self) -> Tensor:
        pi = self.valid.to(self.features.dtype)
        pi = (pi / pi.sum(1, keepdim=True)).expand(self.horizon, -1, -1)
        return self.visitation(pi).flatten()

    def best_response(self, reward: Tensor) -> tuple[tuple[int, ...], Tensor]:
        H, S, A = self.horizon, self.n_states, self.n_actions
        reward = reward.to(dtype=self.features.dtype, device=self.features.device)
        policy, _ = backward_induction(reward.reshape(H, S, A), self.P, self.valid)
        return tuple(policy.flatten().tolist()), self.visitation(policy).flatten()

    def vertex_visitation(self, vertex: tuple[int, ...]) -> Tensor:
        policy = torch.tensor(vertex, dtype=torch.long, device=self.features.device)
        return self.visitation(policy.reshape(self.horizon, self.n_states)).flatten()

    def sample(self, policy: Tensor, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """n trajectories of a policy ((H, S) deterministic or (H, S, A) stochastic).

        Returns (n, H, 2) int array of (state, action) per step.
        """
        rng = rng or np.random.default_rng()
        H, S, A = self.horizon, self.n_states, self.n_actions
        if policy.dtype == torch.long:
            pi = np.zeros((H, S, A))
            pi[np.arange(H)[:, None], np.arange(S)[None, :], policy.cpu().numpy()] = 1.0
        else:
            pi = policy.cpu().numpy()
        P = (self.P.to_dense() if self.P.is_sparse else self.P).cpu().numpy().reshape(S, A, S)
        out = np.empty((n, H, 2), dtype=np.int64)
        s = rng.choice(S, size=n, p=self.initial.cpu().numpy())
        for h in range(H):
            cum = pi[h][s].cumsum(1)
            a = (rng.random((n, 1)) > cum).sum(1).clip(max=A - 1)
            out[:, h, 0], out[:, h, 1] = s, a
            if h < H - 1:
                cum = P[s, a].cumsum(1)
                s = (rng.random((n, 1)) > cum).sum(1).clip(max=S - 1)
        return out

    def policy_from_visitation(self, w: Tensor) -> Tensor:
        """π_h(a|s) ∝ d_h(s, a) (uniform over valid actions where d_h(s) = 0); (H, S, A)."""
        d = w.reshape(self.horizon, self.n_states, self.n_actions)
        mass = d.sum(2, keepdim=True)
        unif = self.valid.to(d.dtype) / self.valid.sum(1, keepdim=True)
        return torch.where(mass > 0, d / mass.clamp_min(1e-300), unif.expand_as(d))


class PromptMDP:
    """The prompt MDP: step h picks one token of slot h; the state is the slot index.

    features: list of (n_h, d) token features, one per slot (the blank token's row is zero).
    A vertex is one token index per slot; the visitation polytope is a product of simplices.
    """

    product_of_simplices = True

    def __init__(
        self,
        vocabulary: Vocabulary,
        features: Sequence,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ):
        if len(features) != vocabulary.horizon:
            raise DesignError(
                f"need one feature matrix per slot: {vocabulary.horizon} slots, {len(features)} matrices"
            )
        mats = []
        for h, (slot, F) in enumerate(zip(vocabulary.slots, features)):
            F = torch.as_tensor(np.asarray(F), dtype=dtype, device=device)
            if F.ndim != 2 or F.shape[0] != len(slot):
                raise DesignError(
                    f"features of slot '{slot.name}' must be ({len(slot)}, d), got {tuple(F.shape)}"
                )
            if h and F.shape[1] != mats[0].shape[1]:
                raise DesignError("all slots' features must have the same dimension d")
            _check_features(F, f"features of slot '{slot.name}'")
            mats.append(F)
        self.vocabulary = vocabulary
        self.features = torch.cat(mats)
        self.dim = self.features.shape[1]
        self.horizon = vocabulary.horizon
        sizes = torch.tensor([0] + vocabulary.sizes, device=device)
        self.offsets = torch.cumsum(sizes, 0)

    @classmethod
    def from_embedder(
        cls,
        vocabulary: Vocabulary,
        embedder,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> PromptMDP:
        """The prompt MDP whose token features are ``embedder.encode`` of each slot's entries."""
        feats = [embedder.encode(list(s.entries)) for s in vocabulary.slots]
        return cls(vocabulary, feats, device=device, dtype=dtype)

    @classmethod
    def shared(
        cls,
        vocabulary: Vocabulary,
        embedder,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> PromptMDP:
        """:meth:`from_embedder`, built once per encoder object and vocabulary content and then
        shared (read-only: nothing may write to its tensors). Every personalizer of a server
        uses one encoder object, so its sessions share one MDP instead of holding a copy of the
        token features each. Encoders that cannot be weakly referenced get a fresh MDP."""
        key = (vocabulary_digest(vocabulary), str(device), dtype)
        try:
            with _SHARED_LOCK:
                per = _SHARED.setdefault(embedder, {})
                build_lock = _BUILDING.setdefault((id(embedder), key), threading.Lock())
        except TypeError:  # not weak-referenceable (or unhashable): nothing to share it with
            return cls.from_embedder(vocabulary, embedder, device=device, dtype=dtype)
        with build_lock:  # one thread builds, concurrent callers wait for it
            mdp = per.get(key)
            if mdp is None:
                mdp = cls.from_embedder(vocabulary, embedder, device=device, dtype=dtype)
                mdp.features.requires_grad_(False)
                with _SHARED_LOCK:
                    while len(per) >= _SHARED_PER_ENCODER:
                        per.pop(next(iter(per)))
                    per[key] = mdp
        with _SHARED_LOCK:
            _BUILDING.pop((id(embedder), key), None)
        return mdp

    def describe_weights(self, w: Tensor, top: int = 10, threshold: float = 1e-6) -> list[dict]:
        """Per slot: its name, the number of tokens with weight > ``threshold`` and the ``top``
        tokens by weight as ``[token, weight]`` pairs; w (N,) visitation weights."""
        out = []
        for h, slot in enumerate(self.vocabulary.slots):
            wh = w[self.offsets[h] : self.offsets[h + 1]].detach().cpu().numpy()
            order = np.argsort(-wh)[:top]
            out.append(
                {
                    "slot": slot.name,
                    "support": int((wh > threshold).sum()),
                    "top": [[slot.entries[i], float(wh[i])] for i in order],
                }
            )
        return out

    def slot_features(self, h: int) -> Tensor:
        return self.features[self.offsets[h] : self.offsets[h + 1]]

    def uniform(self) -> Tensor:
        sizes = (self.offsets[1:] - self.offsets[:-1]).to(self.features.dtype)
        return torch.repeat_interleave(1.0 / sizes, self.offsets[1:] - self.offsets[:-1])

    def best_response(self, reward: Tensor) -> tuple[tuple[int, ...], Tensor]:
        vertex = tuple(
            int(reward[self.offsets[h] : self.offsets[h + 1]].argmax()) for h in range(self.horizon)
        )
        return vertex, self.vertex_visitation(vertex)

    def vertex_visitation(self, vertex: tuple[int, ...]) -> Tensor:
        v = torch.zeros(self.features.shape[0], dtype=self.features.dtype, device=self.features.device)
        v[self.offsets[:-1] + torch.tensor(vertex, device=v.device)] = 1.0
        return v

    def policy_from_visitation(self, w: Tensor) -> list[Tensor]:
        """Per-slot token distributions π_h ∝ w_h; list of (n_h,) tensors."""
        out = []
        for h in range(self.horizon):
            p = w[self.offsets[h] : self.offsets[h + 1]].clamp_min(0)
            out.append(p / p.sum())
        return out
