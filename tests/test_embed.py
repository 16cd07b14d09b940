"""Tests for edpbrl.embed: hashing, MiniLM, CLIP (tiny offline model), cache and factory."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
from pathlib import Path

import numpy as np
import pytest

from edpbrl.embed import (
    CachedEmbedder,
    CLIPTextEmbedder,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    default_cache_dir,
    load_embedder,
)
from edpbrl.errors import EdpbrlError, EmbedderError


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _assert_unit_rows(x: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float32
    assert x.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


# ----------------------------------------------------------------------------- hashing


def test_hashing_shape_dtype_unit_norms():
    emb = HashingEmbedder()
    assert emb.dim == 64 and emb.name == "hashing-64-s0"
    assert isinstance(emb, Embedder)
    x = emb.encode(["a red car", "A misty forest at dawn", "x", "ünïcödé façade", "123 !!"])
    _assert_unit_rows(x, 5, 64)


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
    assert _cos(a, b) > 0.2
    assert _cos(a, b) > _cos(a, c)


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


# ----------------------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("a red car", "bare str"),
        (b"a red car", "bare bytes"),
        (["ok", None], r"texts\[1\] is NoneType"),
        (["ok", 3], r"texts\[1\] is int"),
        (42, "sequence of str, got int"),
        (None, "sequence of str, got NoneType"),
        ({"a", "b"}, "sequence of str, got set"),
        (np.array([["a", "b"]]), "1-D"),
    ],
)
def test_bad_texts_raise_one_line_error(texts, match):
    with pytest.raises(EmbedderError, match=match) as info:
        HashingEmbedder().encode(texts)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, EdpbrlError)


def test_tuple_and_numpy_str_array_accepted():
    emb = HashingEmbedder()
    ref = emb.encode(["a", "b c"])
    np.testing.assert_array_equal(emb.encode(("a", "b c")), ref)
    np.testing.assert_array_equal(emb.encode(np.array(["a", "b c"])), ref)


# ----------------------------------------------------------------------------- MiniLM


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    emb = MiniLMEmbedder()
    emb.encode(["warm up"])
    return emb


def test_minilm_shape_norms_blank(minilm):
    assert minilm.dim == 384 and minilm.name == "minilm-l6-v2"
    assert isinstance(minilm, Embedder)
    texts = ["a sunny beach", "", "a dark gothic cathedral", "  "]
    x = minilm.encode(texts)
    assert x.shape == (4, 384) and x.dtype == np.float32
    assert not x[1].any() and not x[3].any()
    _assert_unit_rows(x[[0, 2]], 2, 384)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_semantic_sanity(minilm):
    beach, sand, church = minilm.encode(
        ["a sunny beach", "bright sunshine on the sand", "a dark gothic cathedral"]
    )
    assert _cos(beach, sand) > _cos(beach, church)


def test_minilm_batching_consistent(minilm):
    texts = [f"a photo of {i} apples" for i in range(7)]
    small = MiniLMEmbedder(batch_size=2)
    small._model = minilm._model  # share the loaded model
    np.testing.assert_allclose(small.encode(texts), minilm.encode(texts), atol=1e-5)


class _NaNModel:
    def encode(self, texts, **kwargs):
        out = np.ones((len(texts), 384), dtype=np.float32)
        out[0, 0] = np.nan
        return out


def test_nan_model_output_raises():
    emb = MiniLMEmbedder()
    emb._model = _NaNModel()  # no real load
    with pytest.raises(EmbedderError, match="non-finite"):
        emb.encode(["a", "b"])


def test_minilm_bad_batch_size():
    with pytest.raises(EmbedderError, match="batch_size"):
        MiniLMEmbedder(batch_size=0)


# ----------------------------------------------------------------------------- CLIP (tiny, offline)

_CLIP_MAX_POS = 16


def _tiny_clip_tokenizer():
    """A byte-level BPE CLIP tokenizer built from an in-memory vocab (no download)."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    merges = [("s", "u"), ("su", "n"), ("sun", "n"), ("sunn", "y</w>"), ("a", "r"), ("ar", "t</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges)


def _tiny_text_config(tok, projection_dim: int = 24) -> dict:
    return dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=_CLIP_MAX_POS,
        projection_dim=projection_dim,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory) -> dict[str, Path]:
    """Tiny random CLIP checkpoints on disk: text+projection, full CLIPModel, no projection."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
    )

    tok = _tiny_clip_tokenizer()
    torch.manual_seed(0)
    dirs = {}

    dirs["text"] = tmp_path_factory.mktemp("clip_text")
    CLIPTextModelWithProjection(CLIPTextConfig(**_tiny_text_config(tok))).save_pretrained(dirs["text"])
    tok.save_pretrained(dirs["text"])

    dirs["full"] = tmp_path_factory.mktemp("clip_full")
    vision = dict(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=8,
        patch_size=4,
    )
    text_cfg = _tiny_text_config(tok)
    del text_cfg["projection_dim"]  # a CLIPModel keeps projection_dim at the top level only
    full = CLIPConfig(text_config=text_cfg, vision_config=vision, projection_dim=20)
    CLIPModel(full).save_pretrained(dirs["full"])
    tok.save_pretrained(dirs["full"])

    dirs["noproj"] = tmp_path_factory.mktemp("clip_noproj")
    CLIPTextModel(CLIPTextConfig(**_tiny_text_config(tok))).save_pretrained(dirs["noproj"])
    tok.save_pretrained(dirs["noproj"])
    return dirs


def test_clip_encode_unit_rows(clip_dirs):
    emb = CLIPTextEmbedder(clip_dirs["text"])
    assert emb.dim == 24
    assert emb.name == f"clip:{clip_dirs['text'].resolve()}"
    assert isinstance(emb, Embedder)
    long_text = "a sunny art gallery " * 20  # far beyond the 16 positions: must be truncated
    x = emb.encode(["a sunny beach", "", "modern art", long_text])
    assert x.shape == (4, 24) and x.dtype == np.float32
    assert not x[1].any()
    _assert_unit_rows(x[[0, 2, 3]], 3, 24)
    assert emb.encode([]).shape == (0, 24)
    # padding within a batch changes the result only by float noise
    np.testing.assert_allclose(emb.encode(["modern art"])[0], x[2], atol=1e-6)


def test_clip_matches_transformers_text_embeds(clip_dirs):
    import torch
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    texts = ["a sunny beach", "modern art", "x"]
    path = clip_dirs["text"]
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = CLIPTextModelWithProjection.from_pretrained(path, local_files_only=True).eval()
    with torch.no_grad():
        ref = model(**tok(texts, padding=True, return_tensors="pt")).text_embeds.numpy()
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    got = CLIPTextEmbedder(path, batch_size=2).encode(texts)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_clip_full_model_directory(clip_dirs):
    emb = CLIPTextEmbedder(str(clip_dirs["full"]))
    assert emb.dim == 20
    _assert_unit_rows(emb.encode(["a sunny beach", "modern art"]), 2, 20)


def test_clip_without_projection_raises(clip_dirs):
    emb = CLIPTextEmbedder(clip_dirs["noproj"])
    with pytest.raises(EmbedderError, match="text projection"):
        emb.encode(["a sunny beach"])


def test_clip_missing_dir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(EmbedderError, match="not found") as info:
        CLIPTextEmbedder(missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_clip_not_a_clip_dir(tmp_path):
    with pytest.raises(EmbedderError, match="no config.json") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EmbedderError, match="not a CLIP model directory") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EmbedderError, match="cannot read"):
        CLIPTextEmbedder(tmp_path)


def test_clip_dir_without_tokenizer(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip_text_model"}))
    with pytest.raises(EmbedderError, match="no CLIP tokenizer") as info:
        CLIPTextEmbedder(tmp_path)
    assert str(tmp_path) in str(info.value)


# ----------------------------------------------------------------------------- cache


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


def test_cache_hits_memory_then_disk(tmp_path):
    ref = HashingEmbedder(dim=32).encode(TEXTS)
    counting = CountingEmbedder(HashingEmbedder(dim=32))
    cached = CachedEmbedder(counting, cache_dir=tmp_path)
    assert cached.name == "hashing-32-s0" and cached.dim == 32
    assert isinstance(cached, Embedder)

    first = cached.encode(TEXTS)
    assert counting.calls == [["a red car", "a misty forest", "", "neon city"]]  # unique only
    np.testing.assert_array_equal(first, ref)
    path = cached.cache_path(TEXTS)
    assert path.parent == tmp_path and path.is_file()
    np.testing.assert_array_equal(np.load(path), ref)
    assert not list(tmp_path.glob("*.tmp"))

    second = cached.encode(TEXTS)  # memory
    assert len(counting.calls) == 1
    np.testing.assert_array_equal(second, ref)
    second[0] = 0.0  # callers own their result: the cache is not corrupted
    np.testing.assert_array_equal(cached.encode(TEXTS), ref)

    counting2 = CountingEmbedder(HashingEmbedder(dim=32))
    fresh = CachedEmbedder(counting2, cache_dir=tmp_path)  # empty memory: served from disk
    np.testing.assert_array_equal(fresh.encode(TEXTS), ref)
    assert counting2.calls == []
    np.testing.assert_array_equal(fresh.encode(["neon city"]), ref[4:5])  # rows now in memory
    assert counting2.calls == []


def test_cache_only_unseen_texts_reach_inner(tmp_path):
    counting = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(counting, cache_dir=tmp_path)
    cached.encode(["a", "b"])
    out = cached.encode(["b", "c", "a"])
    assert counting.calls == [["a", "b"], ["c"]]
    np.testing.assert_array_equal(out, HashingEmbedder().encode(["b", "c", "a"]))
    empty = cached.encode([])
    assert empty.shape == (0, 64) and len(counting.calls) == 2


@pytest.mark.parametrize(
    "garbage",
    [b"not an npy file", b"\x93NUMPY\x01\x00truncated", "wrong-shape", "nan"],
)
def test_cache_recovers_from_corrupt_file(tmp_path, garbage):
    ref = HashingEmbedder(dim=32).encode(TEXTS)
    path = CachedEmbedder(HashingEmbedder(dim=32), cache_dir=tmp_path).cache_path(TEXTS)
    if garbage == "wrong-shape":
        np.save(path, np.ones((2, 3), dtype=np.float32))
    elif garbage == "nan":
        np.save(path, np.full_like(ref, np.nan))
    else:
        path.write_bytes(garbage)
    counting = CountingEmbedder(HashingEmbedder(dim=32))
    out = CachedEmbedder(counting, cache_dir=tmp_path).encode(TEXTS)
    np.testing.assert_array_equal(out, ref)
    assert len(counting.calls) == 1
    np.testing.assert_array_equal(np.load(path), ref)  # rewritten


def test_cache_key_depends_on_inner_name(tmp_path):
    a = CachedEmbedder(HashingEmbedder(seed=0), cache_dir=tmp_path)
    b = CachedEmbedder(HashingEmbedder(seed=1), cache_dir=tmp_path)
    assert a.cache_key(["x"]) != b.cache_key(["x"])
    assert a.cache_key(["x", "y"]) != a.cache_key(["x y"])
    assert len(a.cache_key(["x"])) == 64


def test_cache_default_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EDPBRL_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    cached = CachedEmbedder(HashingEmbedder())
    assert cached.cache_dir == tmp_path / "c"
    cached.encode(["hello"])
    assert len(list((tmp_path / "c").glob("*.npy"))) == 1
    monkeypatch.delenv("EDPBRL_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "edpbrl" / "embeddings"


def test_cache_unwritable_dir_warns_but_works(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a directory")
    cached = CachedEmbedder(HashingEmbedder(), cache_dir=blocker / "sub")
    with pytest.warns(UserWarning, match="embedding cache not written"):
        out = cached.encode(["a", "b"])
    np.testing.assert_array_equal(out, HashingEmbedder().encode(["a", "b"]))


class _BadInner:
    name = "bad"
    dim = 4

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def encode(self, texts):
        if self.kind == "nan":
            return np.full((len(texts), 4), np.nan, dtype=np.float32)
        return np.zeros((len(texts), 5), dtype=np.float32)


def test_cache_rejects_bad_inner_output(tmp_path):
    with pytest.raises(EmbedderError, match="non-finite"):
        CachedEmbedder(_BadInner("nan"), cache_dir=tmp_path).encode(["a"])
    with pytest.raises(EmbedderError, match=r"shape \(1, 5\)"):
        CachedEmbedder(_BadInner("shape"), cache_dir=tmp_path).encode(["a"])
    assert not list(tmp_path.iterdir())
    with pytest.raises(EmbedderError, match="inner must be an Embedder"):
        CachedEmbedder(object(), cache_dir=tmp_path)


def test_cache_with_minilm_identical_to_uncached(minilm, tmp_path):
    texts = ["a sunny beach", "a dark gothic cathedral", ""]
    cached = CachedEmbedder(minilm, cache_dir=tmp_path)
    np.testing.assert_array_equal(cached.encode(texts), minilm.encode(texts))
    np.testing.assert_allclose(cached.encode(texts[:1]), minilm.encode(texts[:1]), atol=1e-6)


# ----------------------------------------------------------------------------- load_embedder


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
    _assert_unit_rows(emb.encode(["a sunny beach"]), 1, 24)
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
    assert "expected minilm[:bf16], hashing[:DIM], clip:PATH or sum:SPEC" in str(info.value)


def test_unknown_spec_message_exact():
    with pytest.raises(EmbedderError) as info:
        load_embedder("xyz")
    expected = "unknown embedder 'xyz': expected minilm[:bf16], hashing[:DIM], clip:PATH or sum:SPEC"
    assert str(info.value) == expected


def test_token_sum_embedder_is_additive():
    from edpbrl.embed import TokenSumEmbedder, embedder_spec

    emb = load_embedder("sum:hashing:16")
    assert isinstance(emb, TokenSumEmbedder) and embedder_spec(emb) == "sum:hashing:16"
    rows = emb.encode(["a cat, watercolor, moonlit", "a cat", "watercolor", "moonlit", ""])
    np.testing.assert_allclose(rows[0], rows[1] + rows[2] + rows[3], atol=1e-6)
    assert not rows[4].any()


def test_minilm_bf16_close_to_fp32(minilm):
    bf = load_embedder("minilm:bf16", cache=False)
    assert bf.name == "minilm-l6-v2-bf16" and bf.name != minilm.name
    texts = ["a castle at dawn, watercolor", "a robot in the rain, neon glow", "a bowl of ramen"]
    a, b = minilm.encode(texts), bf.encode(texts)
    assert b.shape == a.shape and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    assert (a * b).sum(1).min() > 0.999
    with pytest.raises(EmbedderError, match="precision"):
        MiniLMEmbedder(precision="int8")
