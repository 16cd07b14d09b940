"""From a design (per-step token distributions) to concrete query sets.

An episode is a (K, H) array of token indices: option k takes token ``episode[k, h]`` at step h.

* ``iid``: every option's token drawn independently from π_h — the paper's sampling. In
  expectation it keeps only (K−1)/K of the surrogate's information and repeats tokens.
* ``without-replacement``: at each step the K tokens are distinct, drawn by successive sampling
  from π_h (Gumbel top-K).
* ``efficient``: the T·K token uses of each step are allocated to tokens by Pukelsheim's efficient
  rounding of T·K·π_h, then dealt to episodes so that tokens within an episode differ where
  possible; the pairing across steps is a random permutation.

:func:`sample_policy_episodes` realises a K-policy design: option q of every episode follows its
own policy π_q — rollouts (``iid``, the paper's) or per-policy efficient rounding of T·π_q^h.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DesignError

ROUNDINGS = ("iid", "without-replacement", "efficient")


def _probs(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0, None)
    s = p.sum()
    if not np.isfinite(s) or s <= 0:
        raise DesignError("a step's token distribution has no positive mass")
    return p / s


def efficient_rounding(weights, n: int) -> np.ndarray:
    """Integer counts (summing to n) from design weights (Pukelsheim & Rieder 1992).

    Start from ⌈(n − p/2) w_i⌉ on the support (p = support size), then add to argmin n_i / w_i or
    remove from argmax (n_i − 1) / w_i until the total is n.
    """
    w = _probs(weights)
    support = w > 0
    p = int(support.sum())
    counts = np.zeros_like(w, dtype=np.int64)
    counts[support] = np.ceil((n - p / 2.0) * w[support]).astype(np.int64)
    ws = np.where(support, w, np.inf)
    while counts.sum() < n:
        i = int(np.argmin(np.where(support, counts / ws, np.inf)))
        counts[i] += 1
    while counts.sum() > n:
        ratio = np.where(counts > 0, (counts - 1) / ws, -np.inf)
        i = int(np.argmax(ratio))
        counts[i] -= 1
    return counts


def round_atoms(atoms: dict, n: int) -> dict:
    """Allocate n trajectories to the atoms (vertex policies) of a Frank-Wolfe design by efficient
    rounding of their weights; returns {atom id: count} for atoms with a positive count."""
    if not atoms:
        raise DesignError("the design has no atoms to round (use a Frank-Wolfe design)")
    ids = list(atoms)
    counts = efficient_rounding([atoms[i] for i in ids], n)
    return {i: int(c) for i, c in zip(ids, counts) if c > 0}


def sample_episodes(
    policies: Sequence,
    K: int,
    T: int,
    rounding: str = "iid",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """T episodes from per-step distributions ``policies`` (list of (n_h,)); returns (T, K, H)."""
    if rounding not in ROUNDINGS:
        raise DesignError(f"unknown rounding '{rounding}': expected one of {', '.join(ROUNDINGS)}")
    if K < 2:
        raise DesignError(f"K must be at least 2, got {K}")
    rng = rng or np.random.default_rng()
    H = len(policies)
    out = np.empty((T, K, H), dtype=np.int64)
    for h, pi in enumerate(policies):
        p = _probs(pi)
        n_h = p.size
        if rounding == "iid":
            out[:, :, h] = rng.choice(n_h, size=(T, K), p=p)
            continue
        if K > n_h and n_h > 1:
            raise DesignError(f"K={K} is larger than step {h}'s {n_h} tokens")
        if n_h == 1:
            out[:, :, h] = 0
            continue
        if rounding == "without-replacement":
            for t in range(T):
                support = np.flatnonzero(p > 0)
                if support.size >= K:  # Gumbel top-K = successive sampling without replacement
                    g = np.log(p[support]) + rng.gumbel(size=support.size)
                    out[t, :, h] = support[np.argsort(-g)[:K]]
                else:  # too few designed tokens: fill with uniform other tokens
                    rest = rng.permutation(np.setdiff1d(np.arange(n_h), support))
                    out[t, :, h] = np.concatenate([rng.permutation(support), rest])[:K]
            continue
        counts = efficient_rounding(p, T * K)
        tokens = np.repeat(np.arange(n_h), counts)
        tokens = tokens[np.argsort(-counts[tokens], kind="stable")]
        # deal round-robin: use j goes to episode j mod T, so copies of a token land in different
        # episodes unless it has more than T copies
        grid = np.empty((T, K), dtype=np.int64)
        for j, tok in enumerate(tokens):
            grid[j % T, j // T] = tok
        out[:, :, h] = grid[rng.permutation(T)]
    for t in range(T):  # random option order, and random pairing of steps across options
        for h in range(H):
            out[t, :, h] = out[t, rng.permutation(K), h]
    return out


POLICY_ROUNDINGS = ("iid", "efficient")


def sample_policy_episodes(
    policies: Sequence[Sequence], T: int, rounding: str = "iid", rng: np.random.Generator | None = None
) -> np.ndarray:
    """T episodes (T, K, H) from K policies: ``policies[q][h]`` (n_h,) is π_q's distribution over
    step h's tokens, and option q of every episode follows π_q.

    ``iid``: every option's token drawn from its policy (rollouts). ``efficient``: for every
    (q, h) the T uses are allocated by efficient rounding of T·π_q^h and dealt to the episodes in
    a random order, so each policy's realised token frequencies match its design.
    """
    if rounding not in POLICY_ROUNDINGS:
        raise DesignError(f"unknown rounding '{rounding}': expected one of {', '.join(POLICY_ROUNDINGS)}")
    K = len(policies)
    if K < 2:
        raise DesignError(f"K must be at least 2, got {K}")
    H = len(policies[0])
    if any(len(p) != H for p in policies):
        raise DesignError("every policy needs one distribution per step")
    rng = rng or np.random.default_rng()
    out = np.empty((T, K, H), dtype=np.int64)
    for q in range(K):
        for h in range(H):
            p = _probs(policies[q][h])
            if rounding == "iid":
                out[:, q, h] = rng.choice(p.size, size=T, p=p)
            else:
                tokens = np.repeat(np.arange(p.size), efficient_rounding(p, T))
                out[:, q, h] = tokens[rng.permutation(T)]
    return out
