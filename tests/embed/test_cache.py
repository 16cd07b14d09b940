"""The embedding cache: memory then disk, only unseen texts reach the encoder, robust to junk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edpbrl.embed import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    default_cache_dir,
)
from edpbrl.errors import EmbedderError

from ._helpers import TEXTS, CountingEmbedder


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


def test_cache_disk_min_and_memory_rows(tmp_path):
    counting = CountingEmbedder(HashingEmbedder(dim=8))
    cached = CachedEmbedder(counting, cache_dir=tmp_path)
    cached.disk_min, cached.memory_rows = 3, 0
    small = cached.encode(["a", "b"])  # below disk_min: no file, and no memory (memory_rows=0)
    assert not list(tmp_path.glob("*.npy"))
    np.testing.assert_array_equal(cached.encode(["a", "b"]), small)
    assert len(counting.calls) == 2
    cached.encode(["a", "b", "c"])  # at disk_min: written
    assert len(list(tmp_path.glob("*.npy"))) == 1
    cached.encode(["a", "b", "c"])
    assert len(counting.calls) == 3  # served from disk


def test_cached_looks_up_without_encoding(tmp_path):
    """``cached`` serves a call from memory or disk and never runs the model (a server reads
    there while its encoder copies are busy); None for a call it has not seen."""
    inner = CountingEmbedder(HashingEmbedder(16))
    first = CachedEmbedder(inner, cache_dir=tmp_path)
    first.disk_min = 3
    assert first.cached(TEXTS) is None and inner.calls == []
    want = first.encode(TEXTS)
    np.testing.assert_array_equal(first.cached(TEXTS), want)  # from memory
    second = CachedEmbedder(CountingEmbedder(HashingEmbedder(16)), cache_dir=tmp_path)  # a restart
    second.disk_min = 3
    np.testing.assert_array_equal(second.cached(TEXTS), want)  # from disk
    assert second.inner.calls == [] and second.cached(TEXTS[:2]) is None  # below disk_min


def test_put_stores_a_call_computed_elsewhere(tmp_path):
    import numpy as np
    import pytest

    from edpbrl.embed import CachedEmbedder, HashingEmbedder
    from edpbrl.errors import EmbedderError

    c = CachedEmbedder(HashingEmbedder(8), cache_dir=tmp_path)
    texts = ["a", "b", "c"]
    rows = HashingEmbedder(8).encode(texts)
    assert c.cached(texts) is None
    c.put(texts, rows)
    np.testing.assert_array_equal(CachedEmbedder(HashingEmbedder(8), cache_dir=tmp_path).cached(texts), rows)
    with pytest.raises(EmbedderError, match="do not match"):
        c.put(texts, rows[:2])
    c.disk_min = 10  # a call below disk_min leaves no file
    c.put(["d"], HashingEmbedder(8).encode(["d"]))
    assert c.cached(["d"]) is None
