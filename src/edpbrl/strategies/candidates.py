"""Candidate episodes for the pool-based strategies, and their additive prefix features.

Encoding every prefix of every candidate with the text encoder would cost seconds per candidate
pool, so the option at step h of a candidate is represented by the **additive surrogate** of its
prefix, the L2-normalised cumulative sum of its token features (blank tokens have φ = 0):

    x̃_{k,h} = normalise( Σ_{j ≤ h} φ(a_{k,j}) ).

The answered queries themselves are always recorded with the real prefix embeddings; only the
*selection* uses x̃.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..errors import EdpbrlError
from .base import StrategyContext

Tensor = torch.Tensor


@contextlib.contextmanager
def single_thread():
    """Run many small linear-algebra calls on one thread (intra-op threading only adds overhead
    at these sizes, and a lot of it on a busy machine); restores the previous setting."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def random_episodes(rng: np.random.Generator, sizes, n: int, k: int) -> np.ndarray:
    """n episodes (n, k, H) of token indices, every option's token uniform over its slot (slot h
    has ``sizes[h]`` entries), i.i.d.; drawn slot by slot from ``rng``."""
    out = np.empty((n, k, len(sizes)), dtype=np.int64)
    for h, m in enumerate(sizes):
        out[:, :, h] = rng.integers(m, size=(n, k))
    return out


def random_pool(ctx: StrategyContext, n: int) -> np.ndarray:
    """n candidate episodes (n, K, H): every option's token uniform over its slot, i.i.d."""
    return random_episodes(ctx.rng, [len(s) for s in ctx.mdp.vocabulary.slots], n, ctx.k)


def surrogate_options(mdp, episodes: np.ndarray, dtype=torch.float64) -> Tensor:
    """Additive prefix features x̃ (n, K, H, d) of candidate episodes (n, K, H)."""
    idx = torch.as_tensor(episodes, device=mdp.features.device) + mdp.offsets[:-1]
    X = mdp.features[idx].to(dtype).cumsum(dim=2)
    return X / X.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def prefix_texts(vocabulary, episodes: np.ndarray) -> list[list[list[str]]]:
    """Option prefix texts [e][k][h] of episodes (n, K, H) of token indices, worded as a session
    words its questions (:meth:`~edpbrl.vocab.Vocabulary.prompt`)."""
    return [[[vocabulary.prompt(opt[: h + 1]) for h in range(len(opt))] for opt in ep] for ep in episodes]


def encoded_options(encode, vocabulary, episodes: np.ndarray, dtype=torch.float64) -> Tensor:
    """The encoder's features x (n, K, H, d) of candidate episodes' option prefixes (n, K, H):
    what the person is actually shown, unlike :func:`surrogate_options`. Each distinct text is
    encoded once."""
    texts = prefix_texts(vocabulary, episodes)
    flat = [t for e in texts for o in e for t in o]
    uniq = list(dict.fromkeys(flat))
    E = np.asarray(encode(uniq), dtype=np.float64)
    if E.shape[0] != len(uniq) or not np.isfinite(E).all():
        raise EdpbrlError(f"the encoder returned {E.shape[0]} finite rows for {len(uniq)} prompts")
    index = {t: i for i, t in enumerate(uniq)}
    X = torch.as_tensor(E[[index[t] for t in flat]], dtype=dtype)
    n, K, H = episodes.shape
    return X.reshape(n, K, H, -1)
