"""Encoder specs: load_embedder (the parser) and embedder_spec (the unparser)."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import (
    CachedEmbedder,
    CLIPTextEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
    load_embedder,
)
from edpbrl.errors import EmbedderError

from ._helpers import CountingEmbedder, assert_unit_rows


def test_load_hashing_specs(tmp_path):
    emb = load_embedder("hashing", cache_dir=tmp_path)
    assert type(emb) is HashingEmbedder and emb.dim == 64
    emb = load_embedder(" Hashing:16 ", cache_dir=tmp_path)
    assert type(emb) is HashingEmbedder and emb.dim == 16 and emb.name == "hashing-16-s0"
    assert not list(tmp_path.iterdir())  # never disk-cached
    for bad in ["hashing:abc", "hashing:", "hashing:0", "hashing:-4"]:
        with pytest.raises(EmbedderError, match="positive integer"):
            load_embedder(bad)


def test_load_minilm_specs_are_lazy_and_cached(tmp_path):
    for spec in [None, "minilm", "MiniLM"]:
        emb = load_embedder(spec, cache_dir=tmp_path)
        assert isinstance(emb, CachedEmbedder)
        assert isinstance(emb.inner, MiniLMEmbedder) and emb.inner._model is None
        assert emb.name == "minilm-l6-v2" and emb.dim == 384 and emb.cache_dir == tmp_path
    emb = load_embedder(cache=False, device="cpu")
    assert type(emb) is MiniLMEmbedder and emb.device == "cpu"


def test_load_clip_spec(clip_dirs, tmp_path):
    emb = load_embedder(f"clip:{clip_dirs['text']}", cache_dir=tmp_path)
    assert isinstance(emb, CachedEmbedder) and isinstance(emb.inner, CLIPTextEmbedder)
    assert emb.name.startswith("clip:/") and emb.dim == 24
    assert_unit_rows(emb.encode(["a sunny beach"]), 1, 24)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    with pytest.raises(EmbedderError, match="clip:PATH"):
        load_embedder("clip:")
    with pytest.raises(EmbedderError, match="not found"):
        load_embedder(f"clip:{tmp_path / 'missing'}")


def test_load_embedder_objects(tmp_path):
    h = HashingEmbedder()
    assert load_embedder(h) is h
    counting = CountingEmbedder(HashingEmbedder())
    wrapped = load_embedder(counting, cache_dir=tmp_path)
    assert isinstance(wrapped, CachedEmbedder) and wrapped.inner is counting
    assert load_embedder(wrapped) is wrapped
    assert load_embedder(counting, cache=False) is counting


@pytest.mark.parametrize("spec", ["xyz", "minilm:3", "clip", "", 42])
def test_load_unknown_spec(spec):
    with pytest.raises(EmbedderError, match="unknown embedder") as info:
        load_embedder(spec)
    forms = "minilm[:bf16|:auto], hashing[:DIM], clip:PATH, sum:SPEC or minilm-static"
    assert f"expected {forms}" in str(info.value)


def test_unknown_spec_message_exact():
    with pytest.raises(EmbedderError) as info:
        load_embedder("xyz")
    expected = (
        "unknown embedder 'xyz': expected "
        "minilm[:bf16|:auto], hashing[:DIM], clip:PATH, sum:SPEC or minilm-static"
    )
    assert str(info.value) == expected


def test_token_sum_embedder_is_additive():
    from edpbrl.embed import TokenSumEmbedder, embedder_spec

    emb = load_embedder("sum:hashing:16")
    assert isinstance(emb, TokenSumEmbedder) and embedder_spec(emb) == "sum:hashing:16"
    rows = emb.encode(["a cat, watercolor, moonlit", "a cat", "watercolor", "moonlit", ""])
    np.testing.assert_allclose(rows[0], rows[1] + rows[2] + rows[3], atol=1e-6)
    assert not rows[4].any()
