"""The hashing encoder: deterministic, unit rows, similar texts correlate."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import (
    Embedder,
    HashingEmbedder,
)
from edpbrl.errors import EmbedderError

from ._helpers import assert_unit_rows, cos


def test_hashing_shape_dtype_unit_norms():
    emb = HashingEmbedder()
    assert emb.dim == 64 and emb.name == "hashing-64-s0"
    assert isinstance(emb, Embedder)
    x = emb.encode(["a red car", "A misty forest at dawn", "x", "ünïcödé façade", "123 !!"])
    assert_unit_rows(x, 5, 64)


def test_hashing_deterministic_across_instances():
    texts = ["a red car", "an oil painting of a harbour", "neon city at night"]
    a = HashingEmbedder(dim=32, seed=7).encode(texts)
    b = HashingEmbedder(dim=32, seed=7).encode(texts)
    np.testing.assert_array_equal(a, b)
    # a row does not depend on the other texts of the call
    np.testing.assert_array_equal(HashingEmbedder(dim=32, seed=7).encode(texts[1:2])[0], a[1])


def test_hashing_blank_and_empty_input():
    emb = HashingEmbedder(dim=16)
    x = emb.encode(["", "a cat", "   "])
    assert x.shape == (3, 16) and x.dtype == np.float32
    assert not x[0].any() and not x[2].any()
    assert np.linalg.norm(x[1]) == pytest.approx(1.0, abs=1e-6)
    empty = emb.encode([])
    assert empty.shape == (0, 16) and empty.dtype == np.float32


def test_hashing_is_case_and_whitespace_insensitive():
    emb = HashingEmbedder()
    x = emb.encode(["A Red  Car", "a red car"])
    np.testing.assert_array_equal(x[0], x[1])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("dim", [64, 256])
def test_hashing_shared_words_correlate(dim, seed):
    emb = HashingEmbedder(dim=dim, seed=seed)
    a, b, c = emb.encode(["a red sports car", "a red brick house", "blue ocean waves"])
    assert cos(a, b) > 0.2
    assert cos(a, b) > cos(a, c)


def test_hashing_seeds_differ():
    texts = ["a red car", "a blue boat"]
    a = HashingEmbedder(seed=0).encode(texts)
    b = HashingEmbedder(seed=1).encode(texts)
    assert not np.allclose(a, b)
    assert HashingEmbedder(seed=1).name == "hashing-64-s1"


@pytest.mark.parametrize("dim", [0, -3, 2.5, True, "64"])
def test_hashing_bad_dim(dim):
    with pytest.raises(EmbedderError, match="dim must be a positive integer"):
        HashingEmbedder(dim=dim)


def test_hashing_bad_seed():
    with pytest.raises(EmbedderError, match="seed"):
        HashingEmbedder(seed=1.5)
