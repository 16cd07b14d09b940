"""Personalised prompts: beam search over the slots for the prompts with the highest θ̂ᵀx(prompt).

x(prompt) is the embedding of the whole prompt text (what the user is shown), which is not
additive in the tokens. To keep the search cheap each slot is first pre-screened to its
``shortlist`` best tokens by the additive score θ̂ᵀφ(token); the beam then scores real prefix
embeddings. With ``candidates`` only that many of the beam × shortlist extensions are encoded per
slot: those with the highest beam score plus θ̂ᵀφ(token) (the encoder dominates the cost).
"""

from __future__ import annotations

import numpy as np

from .errors import EdpbrlError
from .vocab import Vocabulary, join_prompt


def _check(theta, dim, **sizes) -> np.ndarray:
    try:
        theta = np.asarray(theta, dtype=np.float64)
    except (TypeError, ValueError):
        raise EdpbrlError("θ must be a vector of numbers") from None
    if theta.ndim != 1 or (dim is not None and theta.shape[0] != dim):
        raise EdpbrlError(f"θ must have shape ({dim},), got {theta.shape}")
    if not np.isfinite(theta).all():
        raise EdpbrlError("θ contains NaN or infinite values")
    for name, value in sizes.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
        ):
            raise EdpbrlError(f"{name} must be a positive integer, got {value!r}")
    return theta


def beam_search(
    theta,
    vocabulary: Vocabulary,
    embedder,
    *,
    n: int = 4,
    beam: int = 15,
    shortlist: int = 8,
    candidates: int | None = None,
    token_features=None,
) -> list[tuple[str, float]]:
    """Top-n (prompt, score) pairs. token_features: optional list of (n_h, d) per slot;
    candidates: at most this many distinct prefixes encoded per slot (None: every extension)."""
    theta = _check(
        theta, getattr(embedder, "dim", None), n=n, beam=beam, shortlist=shortlist, candidates=candidates
    )
    beams: list[tuple[list[str], float]] = [([], 0.0)]
    for h, slot in enumerate(vocabulary.slots):
        F = (
            np.asarray(token_features[h])
            if token_features is not None
            else embedder.encode(list(slot.entries))
        )
        additive = F @ theta
        order = np.argsort(-additive, kind="stable")[:shortlist]
        cands = [(toks + [slot.entries[i]]) for toks, _ in beams for i in order]
        texts = [join_prompt(c) for c in cands]
        if candidates is not None and len(cands) > candidates:
            guess = [s + additive[i] for _, s in beams for i in order]
            keep, seen = [], set()
            for j in sorted(range(len(cands)), key=lambda j: -guess[j]):  # stable: ties keep order
                if texts[j] not in seen:
                    seen.add(texts[j])
                    keep.append(j)
                    if len(keep) >= candidates:
                        break
            cands, texts = [cands[j] for j in keep], [texts[j] for j in keep]
        uniq = list(dict.fromkeys(t for t in texts if t))
        scores = dict(zip(uniq, embedder.encode(uniq) @ theta)) if uniq else {}
        scored, seen = [], set()
        for c, t in sorted(zip(cands, texts), key=lambda ct: -scores.get(ct[1], -np.inf)):
            if t in seen:
                continue
            seen.add(t)
            scored.append((c, float(scores.get(t, 0.0))))
            if len(scored) >= beam:
                break
        beams = scored
    return [(join_prompt(t), s) for t, s in beams[:n]]
