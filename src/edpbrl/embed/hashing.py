"""A deterministic encoder by signed feature hashing: no model, no network (tests, smoke runs)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ..errors import EmbedderError
from .base import check_dim, check_texts, normalise_rows
from .registry import EMBEDDERS, BuildOptions, EmbedderKind

_FEATURE_CACHE_LIMIT = 1_000_000  # hashed features remembered by a HashingEmbedder
_WORD_RE = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic encoder by signed feature hashing; no model, no network.

    Features are the lowercase word unigrams and the character 3-grams of the whitespace-normalised
    text (padded with a space on each side). Each feature is hashed with keyed BLAKE2b (key = seed)
    to a column in ``[0, dim)`` and a sign. The word part and the 3-gram part are L2-normalised
    separately, summed with equal weight and normalised again, so texts sharing words get
    positively correlated vectors.

    Args:
        dim: output dimension ``d`` (> 0).
        seed: integer selecting the hash function; different seeds give different embeddings.
    """

    cacheable = False  # hashing is cheaper than reading the cache

    def __init__(self, dim: int = 64, seed: int = 0) -> None:
        self.dim = check_dim(dim)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise EmbedderError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        self.name = f"hashing-{self.dim}-s{self.seed}"
        self._key = hashlib.blake2b(str(self.seed).encode(), digest_size=32).digest()
        self._slots: dict[str, tuple[int, float]] = {}

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, seed={self.seed})"

    def _slot(self, feature: str) -> tuple[int, float]:
        slot = self._slots.get(feature)
        if slot is None:
            digest = hashlib.blake2b(
                feature.encode("utf-8", "surrogatepass"), digest_size=8, key=self._key
            ).digest()
            h = int.from_bytes(digest, "little")
            slot = (h % self.dim, -1.0 if h >> 63 else 1.0)
            if len(self._slots) >= _FEATURE_CACHE_LIMIT:
                self._slots.clear()
            self._slots[feature] = slot
        return slot

    @staticmethod
    def _features(text: str) -> tuple[list[str], list[str]]:
        norm = " ".join(text.lower().split())
        if not norm:
            return [], []
        words = ["w:" + w for w in _WORD_RE.findall(norm)]
        padded = f" {norm} "
        grams = ["c:" + padded[i : i + 3] for i in range(len(padded) - 2)]
        return words, grams

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``n`` texts to ``float32`` ``(n, dim)``; unit rows, blank texts -> zero rows."""
        texts = check_texts(texts)
        n = len(texts)
        parts = [np.zeros((n, self.dim), dtype=np.float64) for _ in range(2)]
        coords: list[tuple[list[int], list[int], list[float]]] = [([], [], []), ([], [], [])]
        for i, text in enumerate(texts):
            for part, feats in zip(coords, self._features(text), strict=True):
                rows, cols, signs = part
                for f in feats:
                    col, sign = self._slot(f)
                    rows.append(i)
                    cols.append(col)
                    signs.append(sign)
        out = np.zeros((n, self.dim), dtype=np.float64)
        for mat, (rows, cols, signs) in zip(parts, coords, strict=True):
            if rows:
                np.add.at(mat, (np.asarray(rows), np.asarray(cols)), np.asarray(signs))
            norms = np.linalg.norm(mat, axis=1, keepdims=True)
            np.divide(mat, norms, out=mat, where=norms > 0)
            out += mat
        return normalise_rows(out)


def _build(arg: str | None, _: BuildOptions) -> HashingEmbedder:
    if arg is None:
        return HashingEmbedder()
    if not arg.lstrip("-").isdigit():
        raise EmbedderError(f"hashing dim must be a positive integer, got {arg!r}")
    return HashingEmbedder(dim=int(arg))


def _spec_of(emb) -> str | None:
    if not isinstance(emb, HashingEmbedder):
        return None
    if emb.seed != 0:
        raise EmbedderError("a HashingEmbedder with a non-zero seed has no load_embedder spec")
    return f"hashing:{emb.dim}"


EMBEDDERS.register(
    "hashing",
    EmbedderKind("hashing[:DIM]", _build, _spec_of, cached=False),
    help="deterministic feature hashing, no model (tests, smoke runs); default 64-d",
)
