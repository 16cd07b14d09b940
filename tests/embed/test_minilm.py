"""The packaged MiniLM encoder (real weights, offline)."""

from __future__ import annotations

import numpy as np
import pytest

from edpbrl.embed import (
    Embedder,
    MiniLMEmbedder,
    load_embedder,
)
from edpbrl.errors import EmbedderError

from ._helpers import assert_unit_rows, cos


def test_minilm_shape_norms_blank(minilm):
    assert minilm.dim == 384 and minilm.name == "minilm-l6-v2"
    assert isinstance(minilm, Embedder)
    texts = ["a sunny beach", "", "a dark gothic cathedral", "  "]
    x = minilm.encode(texts)
    assert x.shape == (4, 384) and x.dtype == np.float32
    assert not x[1].any() and not x[3].any()
    assert_unit_rows(x[[0, 2]], 2, 384)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_semantic_sanity(minilm):
    beach, sand, church = minilm.encode(
        ["a sunny beach", "bright sunshine on the sand", "a dark gothic cathedral"]
    )
    assert cos(beach, sand) > cos(beach, church)


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


def test_minilm_bf16_close_to_fp32(minilm):
    bf = load_embedder("minilm:bf16", cache=False)
    assert bf.name == "minilm-l6-v2-bf16" and bf.name != minilm.name
    texts = ["a castle at dawn, watercolor", "a robot in the rain, neon glow", "a bowl of ramen"]
    a, b = minilm.encode(texts), bf.encode(texts)
    assert b.shape == a.shape and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    assert (a * b).sum(1).min() > 0.999
    with pytest.raises(EmbedderError, match="precision"):
        MiniLMEmbedder(precision="int8")


def test_auto_precision_follows_the_hardware(monkeypatch):
    """minilm:auto is bf16 only where the CPU computes bfloat16 natively (without AVX512-BF16/AMX
    bf16 autocast is several times slower); a saved session records the concrete choice."""
    import edpbrl.embed.minilm as mm
    from edpbrl.embed import embedder_spec, load_embedder

    for native, expected in ((True, "minilm:bf16"), (False, "minilm")):
        monkeypatch.setattr(mm, "native_bf16", lambda device="cpu", n=native: n)
        assert mm.resolve_auto_spec("minilm:auto") == expected
        assert embedder_spec(load_embedder("minilm:auto")) == expected
    assert mm.resolve_auto_spec("hashing:64") == "hashing:64"
    assert mm.resolve_auto_spec("minilm") == "minilm"


def test_native_bf16_reads_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    import edpbrl.embed.minilm as mm

    real_open = builtins.open
    cases = (("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16 sse", True), ("amx_bf16", True))
    for flags, expected in cases:
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")

        def fake_open(p, *a, _i=info, **k):
            return real_open(_i if p == "/proc/cpuinfo" else p, *a, **k)

        monkeypatch.setattr(builtins, "open", fake_open)
        assert mm.native_bf16("cpu") is expected
    monkeypatch.setattr(builtins, "open", real_open)
    assert mm.native_bf16("mps") is False
