"""Helpers shared by the encoder tests."""

from __future__ import annotations

import numpy as np

from edpbrl.embed import Embedder


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def assert_unit_rows(x: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float32
    assert x.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


class CountingEmbedder:
    """Wraps an encoder and records the texts of every encode call."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.inner.encode(texts)


TEXTS = ["a red car", "a misty forest", "", "a red car", "neon city"]


TEXTS = ["a red car", "a misty forest", "", "a red car", "neon city"]
