"""Additive prompt features: a prompt's vector is the sum of its tokens' vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import EmbedderError
from .base import Embedder, check_texts
from .registry import EMBEDDERS, BuildOptions, EmbedderKind, embedder_spec, load_embedder


class TokenSumEmbedder:
    """Additive prompt features: a prompt's vector is the sum of its tokens' vectors.

    The text is split on ", " (the prompt MDP joins tokens that way) and each token is encoded by
    ``inner``; rows are *not* normalised, so x(prompt) = Σ_h φ(a_h) exactly — the world in which
    the design's per-token surrogate is well specified. Spec: ``sum:INNER`` (e.g. ``sum:minilm``).
    """

    unit_norm = False  # the sum of h unit token vectors has norm up to h: that is the point
    cacheable = False  # its inner encoder is cached already

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.dim = int(inner.dim)
        self.name = f"sum[{inner.name}]"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32: Σ of the token rows of each text; "" → zero row."""
        texts = check_texts(texts)
        parts = [[p for p in t.split(", ") if p.strip()] for t in texts]
        uniq = list(dict.fromkeys(p for ps in parts for p in ps))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not uniq:
            return out
        rows = dict(zip(uniq, np.asarray(self.inner.encode(uniq), dtype=np.float32)))
        for i, ps in enumerate(parts):
            for p in ps:
                out[i] += rows[p]
        return out


def _build(arg: str | None, opts: BuildOptions) -> TokenSumEmbedder:
    if not arg:
        raise EmbedderError("sum spec needs an inner encoder: sum:SPEC (e.g. sum:minilm)")
    inner = load_embedder(arg, device=opts.device, cache=opts.cache, cache_dir=opts.cache_dir)
    return TokenSumEmbedder(inner)


def _spec_of(emb) -> str | None:
    return f"sum:{embedder_spec(emb.inner)}" if isinstance(emb, TokenSumEmbedder) else None


EMBEDDERS.register(
    "sum",
    EmbedderKind("sum:SPEC", _build, _spec_of, cached=False),
    help="additive token-sum features of another encoder (not unit-norm; the well-specified world)",
)
